"""Flags and YAML files: what the options list, wrong values as one-line errors, flags over the file,
and how much a command prints."""

import json
import re

import pytest

from tests.cli.commands import assert_usage_error, call


FAST = ["--dataset", "dots", "--dots-samples", "300", "--model", "mlp", "--widths", "8", "--epochs", "1",
        "--precision", "float32", "--diagnostics", "none", "--quiet"]


def test_train_help_lists_datasets_and_models(capsys):
    code, out, _ = call(capsys, "train", "--help")
    assert code == 0
    for name in ("dots", "digits", "tfds:NAME", "npz:PATH", "logreg", "mlp", "cnn", "resnet20", "resnet56"):
        assert name in out


def test_yaml_errors(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\n")
    assert_usage_error(*call(capsys, "train", "--config", str(bad))[::2], "not valid YAML")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("dataset: dots\nbatchsize: 3\n")
    assert_usage_error(*call(capsys, "train", "--config", str(unknown))[::2], "unknown setting 'batchsize'")


@pytest.mark.parametrize("text, message", [("diagnostics: 5\n", "diagnostics must be"), ("out: 5\n", "out must be"),
                                           ("widths: 7.5\n", "widths")])
def test_wrongly_typed_yaml_values_are_one_line_errors(capsys, tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert_usage_error(*call(capsys, "train", "--config", str(path))[::2], message)


def test_yaml_settings_apply_and_flags_win(capsys, tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text(f"dataset: dots\ndots_samples: 300\nmodel: mlp\nwidths: [8]\nepochs: 2\nbatch_size: 16\n"
                      f"precision: float32\ndiagnostics: none\nout: {tmp_path / 'runs'}\nstudy: y\n")
    code, out, _ = call(capsys, "train", "--config", str(config), "--epochs", "1", "--quiet")
    assert code == 0
    stored = json.loads((tmp_path / "runs" / "y" / "bs16" / "config.json").read_text())["config"]
    assert stored["epochs"] == 1 and stored["batch_size"] == 16 and stored["model"]["widths"] == [8]
    assert re.search(r"^\|\s+16 \| ok", out, re.M)


def test_unwritable_output_dir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_usage_error(*call(capsys, "train", *FAST, "--out", str(blocker / "runs"))[::2], "cannot write to")


def test_sweep_progress_lines(capsys, tmp_path):
    argv = [a for a in FAST if a != "--quiet"]
    code, _, err = call(capsys, "sweep", *argv, "--batch-sizes", "16,32", "--out", str(tmp_path), "--study", "p")
    assert code == 0
    assert "[1/2] batch 16 ok, val_accuracy" in err and "[2/2] batch 32 ok" in err
    _, out, err = call(capsys, "sweep", *argv, "--batch-sizes", "64", "--verbose", "--out", str(tmp_path),
                       "--study", "p2")
    assert re.search(r"^\d+/\d+ - .* - val_accuracy: ", out, re.M)  # Keras's own per-epoch line
