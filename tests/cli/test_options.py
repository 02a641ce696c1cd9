"""The command line: exit codes, one-line errors, YAML merging, compare formats, --help without TensorFlow."""

import io
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from kerasbatch.cli.app import run as cli

FAST = ["--dataset", "dots", "--dots-samples", "300", "--model", "mlp", "--widths", "8", "--epochs", "1",
        "--precision", "float32", "--diagnostics", "none", "--quiet"]


def call(capsys, *argv):
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, text):
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err


def test_help_does_not_import_tensorflow():
    commands = ["train", "sweep", "tune", "compare", "export", "plot", "report"]
    probe = ("import sys; from kerasbatch.cli.app import run; "
             f"codes = [run(['--help'])] + [run([c, '--help']) for c in {commands!r}]; "
             "print(codes, [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_tuner')])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == f"{[0] * (len(commands) + 1)} []"


def test_train_help_lists_datasets_and_models(capsys):
    code, out, _ = call(capsys, "train", "--help")
    assert code == 0
    for name in ("dots", "digits", "tfds:NAME", "npz:PATH", "logreg", "mlp", "cnn", "resnet20", "resnet56"):
        assert name in out


@pytest.mark.parametrize("argv, text", [
    (["train", "--dataset", "dots", "--model", "mlp", "--batch-size", "0"], "batch_size must be a positive integer"),
    (["train", "--batch-size", "abc"], "'abc' is not a valid integer"),
    (["train", "--dataset", "imagenet9", "--batch-size", "8"], "unknown dataset 'imagenet9'"),
    (["train", "--dataset", "dots", "--model", "transformer"], "unknown model"),
    (["train", "--dataset", "dots", "--model", "cnn"], "needs image input"),
    (["train", "--optimizer", "lion"], "Invalid value for '--optimizer'"),
    (["train", "--wobble", "3"], "No such option '--wobble'"),
    (["train", "--config", "/nonexistent/c.yaml"], "cannot read config file"),
    (["sweep", "--dataset", "dots", "--dots-samples", "100", "--batch-sizes", "32,4096"], "larger than the"),
    (["sweep", "--batch-sizes", "32,0"], "batch_sizes must be a positive integer"),
    (["compare", "/nonexistent/study"], "no study at"),
    (["train", *FAST, "--run-id", ".."], "run id must be a plain folder name"),
    (["tune", *FAST, "--lr-range", "1e-3,inf"], "lr_range"),
    (["tune", *FAST, "--lr-range", "1,0.1"], "lr_range"),
    (["plot", "/nonexistent/study"], "no study at"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, tmp_path, argv, text):
    code, _, err = call(capsys, *argv, *([] if argv[0] in ("compare", "plot") else ["--out", str(tmp_path)]))
    assert_usage_error(code, err, text)
    assert list(tmp_path.iterdir()) == []


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


def test_output_files_that_cannot_be_written(capsys, digits_sweep, tmp_path):
    store, _ = digits_sweep
    assert_usage_error(*call(capsys, "compare", str(store.study_dir), "--output", str(tmp_path / "no" / "t.md"))[::2],
                       "cannot write")
    assert_usage_error(*call(capsys, "report", str(store.study_dir), "--output", str(tmp_path))[::2], "cannot write")


def test_unwritable_output_dir(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_usage_error(*call(capsys, "train", *FAST, "--out", str(blocker / "runs"))[::2], "cannot write to")


def test_yaml_settings_apply_and_flags_win(capsys, tmp_path):
    config = tmp_path / "study.yaml"
    config.write_text(f"dataset: dots\ndots_samples: 300\nmodel: mlp\nwidths: [8]\nepochs: 2\nbatch_size: 16\n"
                      f"precision: float32\ndiagnostics: none\nout: {tmp_path / 'runs'}\nstudy: y\n")
    code, out, _ = call(capsys, "train", "--config", str(config), "--epochs", "1", "--quiet")
    assert code == 0
    stored = json.loads((tmp_path / "runs" / "y" / "bs16" / "config.json").read_text())["config"]
    assert stored["epochs"] == 1 and stored["batch_size"] == 16 and stored["model"]["widths"] == [8]
    assert re.search(r"^\|\s+16 \| ok", out, re.M)


def test_rerunning_a_study_with_other_settings_is_refused(capsys, tmp_path):
    assert call(capsys, "train", *FAST, "--out", str(tmp_path), "--study", "s")[0] == 0
    code, _, err = call(capsys, "train", *FAST, "--learning-rate", "0.5", "--out", str(tmp_path), "--study", "s")
    assert_usage_error(code, err, "different settings")


def test_sweep_exit_code_is_1_when_a_run_fails(capsys, tmp_path):
    code, out, err = call(capsys, "sweep", *FAST, "--batch-sizes", "16,32", "--learning-rate", "100000",
                          "--out", str(tmp_path), "--study", "bad")
    assert code == 1
    assert out.count("diverged") == 2


def test_sweep_progress_lines(capsys, tmp_path):
    argv = [a for a in FAST if a != "--quiet"]
    code, _, err = call(capsys, "sweep", *argv, "--batch-sizes", "16,32", "--out", str(tmp_path), "--study", "p")
    assert code == 0
    assert "[1/2] batch 16 ok, val_accuracy" in err and "[2/2] batch 32 ok" in err
    _, out, err = call(capsys, "sweep", *argv, "--batch-sizes", "64", "--verbose", "--out", str(tmp_path),
                       "--study", "p2")
    assert re.search(r"^\d+/\d+ - .* - val_accuracy: ", out, re.M)  # Keras's own per-epoch line


def test_compare_formats_and_rerun_leaves_table_identical(capsys, digits_sweep):
    store, _ = digits_sweep
    code, csv_text, _ = call(capsys, "compare", str(store.study_dir), "--format", "csv")
    assert code == 0
    table = pd.read_csv(io.StringIO(csv_text))
    assert table["batch_size"].tolist() == [32, 256] and (table["status"] == "ok").all()
    for column in ("best_val_accuracy", "final_val_accuracy", "epochs_to_target", "steps_to_target",
                   "examples_to_target", "seconds_to_target", "samples_per_second", "train_seconds",
                   "generalization_gap", "learning_rate", "precision"):
        assert column in table.columns
    mtime = (store.study_dir / "bs32" / "summary.json").stat().st_mtime_ns
    code, _, err = call(capsys, "sweep", "--dataset", "digits", "--model", "mlp", "--batch-sizes", "32,256",
                        "--epochs", "3", "--precision", "float32", "--target", "0.5",
                        "--out", str(store.study_dir.parent), "--study", "s")
    assert code == 0 and err.count("already done") == 2
    assert (store.study_dir / "bs32" / "summary.json").stat().st_mtime_ns == mtime
    assert call(capsys, "compare", str(store.study_dir), "--format", "csv")[1] == csv_text
    for fmt, marker in (("markdown", "| batch |"), ("html", "<table"), ("latex", "\\begin{tabular}")):
        assert marker in call(capsys, "compare", str(store.study_dir), "--format", fmt)[1]
    records = json.loads(call(capsys, "compare", str(store.study_dir), "--format", "json")[1])
    assert [r["batch_size"] for r in records] == [32, 256]


def test_compare_columns_sort_and_output_file(capsys, digits_sweep, tmp_path):
    store, _ = digits_sweep
    target = tmp_path / "table.csv"
    code, out, _ = call(capsys, "compare", str(store.study_dir), "--format", "csv", "--columns",
                        "batch_size,learning_rate", "--sort", "learning_rate", "--output", str(target))
    assert code == 0 and out == ""
    assert target.read_text().splitlines()[0] == "batch_size,learning_rate"
    assert_usage_error(*call(capsys, "compare", str(store.study_dir), "--columns", "nope")[::2], "unknown column")


def test_plot_and_report_commands(capsys, tmp_path):
    from tests.study_factory import make_study

    study = make_study(tmp_path)
    code, out, _ = call(capsys, "plot", str(study), "--output", str(tmp_path / "figs"))
    assert code == 0 and (tmp_path / "figs" / "val_accuracy_vs_batch.png").stat().st_size > 0
    assert len(out.split()) == len(list((tmp_path / "figs").iterdir()))
    code, out, _ = call(capsys, "report", str(study), "--output", str(tmp_path / "r.html"))
    assert code == 0 and "<table" in (tmp_path / "r.html").read_text()
    assert_usage_error(*call(capsys, "report", str(tmp_path / "nothing"))[::2], "no study")
