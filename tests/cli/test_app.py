"""The command: --help without TensorFlow, exit codes, one-line usage errors, and every file under
experiments/ building the config its command runs (sweep and tune files through their command's own
parser, study files, full and --quick, through the study loader)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kerasbatch.config.study import load_study, StudyConfig
from kerasbatch.cli import app as cli
from kerasbatch.config import commands as command_config, run as config
from kerasbatch.errors import KerasbatchError

from tests.experiment_files import EXPERIMENTS, command_of
from tests.cli.commands import assert_usage_error, call


FAST = ["--dataset", "dots", "--dots-samples", "300", "--model", "mlp", "--widths", "8", "--epochs", "1",
        "--precision", "float32", "--diagnostics", "none", "--quiet"]


def test_help_does_not_import_tensorflow():
    commands = ["train", "sweep", "tune", "compare", "export", "plot", "report"]
    probe = ("import sys; from kerasbatch.cli.app import run; "
             f"codes = [run(['--help'])] + [run([c, '--help']) for c in {commands!r}]; "
             "print(codes, [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_tuner')])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == f"{[0] * (len(commands) + 1)} []"


def test_study_help_does_not_import_tensorflow():
    import subprocess
    import sys

    probe = ("import sys; from kerasbatch.cli.app import run; code = run(['study', '--help']); "
             "print(code, [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 []"


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


def test_rerunning_a_study_with_other_settings_is_refused(capsys, tmp_path):
    assert call(capsys, "train", *FAST, "--out", str(tmp_path), "--study", "s")[0] == 0
    code, _, err = call(capsys, "train", *FAST, "--learning-rate", "0.5", "--out", str(tmp_path), "--study", "s")
    assert_usage_error(code, err, "different settings")


def test_sweep_exit_code_is_1_when_a_run_fails(capsys, tmp_path):
    code, out, err = call(capsys, "sweep", *FAST, "--batch-sizes", "16,32", "--learning-rate", "100000",
                          "--out", str(tmp_path), "--study", "bad")
    assert code == 1
    assert out.count("diverged") == 2


CONFIG_TYPES = {"train": config.RunConfig, "sweep": command_config.SweepConfig, "tune": command_config.TuneConfig}


def build(path: Path, quick: bool = False):
    command = command_of(path)
    if command == "study":
        return load_study(path, quick=quick)
    return cli.build_config(command, ["--config", str(path)])


def test_there_are_studies():
    assert len(EXPERIMENTS) >= 3
    assert any(command_of(path) == "study" for path in EXPERIMENTS)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_builds_the_config_its_command_runs(path):
    command = command_of(path)
    built = build(path)
    if command == "study":
        quick = build(path, quick=True)
        assert isinstance(built, StudyConfig) and isinstance(quick, StudyConfig)
        assert quick.repeats <= built.repeats and quick.name == built.name + "-quick"
        assert len(list(quick.runs())) == len(quick.arms) * len(quick.batch_sizes) * quick.repeats
    else:
        assert isinstance(built, CONFIG_TYPES[command])


@pytest.mark.parametrize("command", ["sweep", "study"])
def test_a_file_that_stops_building_fails(tmp_path, command):
    source = next(path for path in EXPERIMENTS if command_of(path) == command)
    broken = tmp_path / source.name
    broken.write_text(source.read_text() + "\nlearning_rate: -1\n")
    with pytest.raises(KerasbatchError, match="learning_rate must be a number"):
        build(broken)


def test_a_study_whose_quick_block_stops_building_fails(tmp_path):
    source = next(path for path in EXPERIMENTS if command_of(path) == "study")
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace("quick:\n", "quick:\n  dots_noise: -1\n", 1))
    build(broken)  # the full form is still fine
    with pytest.raises(KerasbatchError, match="dots_noise must be a number"):
        build(broken, quick=True)
