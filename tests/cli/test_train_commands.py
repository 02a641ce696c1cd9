"""Bad input at the command line: one ``error:`` line, exit 2, nothing written; the traceback only on --debug."""

import numpy as np
import pytest

from kerasbatch.cli.app import run as cli
from tests.conftest import dots_run

FAST = ["--epochs", "1", "--precision", "float32", "--diagnostics", "none", "--quiet"]


def call(capsys, *argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code, err, text):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err


@pytest.fixture
def nan_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "nan.npz"
    np.savez(path, x_train=np.full((40, 3), np.nan, "float32"), y_train=np.arange(40) % 2,
             x_test=rng.normal(size=(10, 3)), y_test=np.arange(10) % 2)
    return path


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_non_finite_inputs_stop_before_anything_is_written(capsys, tmp_path, nan_npz, command):
    out = tmp_path / "runs"
    code, _, err = call(capsys, command, "--dataset", f"npz:{nan_npz}", "--model", "logreg", "--out", out, *FAST)
    one_error_line(code, err, "x_train holds NaN or infinite values")
    assert not out.exists()


def test_a_model_builder_that_raises_is_one_line_and_its_traceback_only_on_debug(capsys, tmp_path, monkeypatch):
    out = tmp_path / "runs"
    argv = ["train", "--dataset", "dots", "--dots-samples", "200", "--model", "tests.user_models:boom", "--out", out,
            *FAST]
    code, _, err = call(capsys, *argv)
    one_error_line(code, err, "error: model builder 'tests.user_models:boom' raised RuntimeError: boom")
    assert not out.exists()

    code, _, err = call(capsys, "--debug", *argv)
    assert code == 2 and "Traceback (most recent call last)" in err and 'raise RuntimeError("boom")' in err
    assert err.strip().splitlines()[-1] == "error: model builder 'tests.user_models:boom' raised RuntimeError: boom"

    monkeypatch.setenv("KERASBATCH_DEBUG", "1")
    code, _, err = call(capsys, *argv)
    assert code == 2 and "Traceback (most recent call last)" in err


def test_export_into_a_folder_that_cannot_be_made_is_one_line(capsys, tmp_path):
    from kerasbatch.training import train
    from kerasbatch.store import Store

    result = train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path / "runs", "s"), verbose=0)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = call(capsys, "export", result.path, "--to", blocker / "export")
    one_error_line(code, err, "is not a folder")
    assert blocker.read_text() == "not a folder"
