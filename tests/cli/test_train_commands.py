"""The commands that train, end to end: bad input stops before anything is written, the adaptive schedule,
profile, suggest, study and a search from a suggestion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import STUDY
from tests.cli.commands import call, one_error_line


FAST = ["--epochs", "1", "--precision", "float32", "--diagnostics", "none", "--quiet"]


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


def test_adaptive_train_from_the_command_line_changes_the_batch_and_logs_the_rate(adaptive_cli_run):
    code, history, summary = adaptive_cli_run
    assert code == 0 and summary["status"] == "ok"
    # Switches come in mid-epoch (four decisions an epoch): the schedule has them, each row its epoch's end.
    assert summary["schedule"][0]["batch_size"] == 32 and len({e["batch_size"] for e in summary["schedule"]}) > 1
    assert history["lr"].notna().all() and len(history) == 6
    # Examples are counted at each step's batch: every epoch is one pass, less the partial batch it dropped.
    per_epoch = history["examples"].diff().fillna(history["examples"].iloc[0])
    assert ((per_epoch <= 1294) & (per_epoch > 1294 - history["batch_size"])).all()
    switches = summary["schedule"][1:]
    assert switches and all(s["batch_size"] <= 2 * p["batch_size"] for p, s in zip(summary["schedule"], switches))
    assert summary["final_batch_size"] == history["batch_size"].iloc[-1]
    # The rate moves with the batch (the noise-scale rule): an epoch logs the rate of its last step, the
    # rate of the last switch before that step.
    for row in history.itertuples():
        latest = max((e for e in summary["schedule"] if e["step"] <= row.steps - 1), key=lambda e: e["step"])
        assert row.lr == pytest.approx(latest["learning_rate"], rel=1e-5)
    assert summary["step_time_source"] == "on-the-fly" and summary["max_batch"] == 160


def test_profile_command_prints_samples_per_second_per_size_and_writes_profile_json(tmp_path, capsys):
    from kerasbatch.cli.app import run as cli

    code = cli(["profile", "--dataset", "digits", "--model", "logreg", "--precision", "float32", "--batch-sizes",
                "32,256", "--warmup-steps", "1", "--timed-steps", "2", "--out", str(tmp_path), "--study", "p"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("|") and "---" not in line]
    assert "samples_per_second" in rows[0] and [r.split("|")[1].strip() for r in rows[1:]] == ["32", "256"]
    assert [r["status"] for r in json.loads((tmp_path / "p" / "profile.json").read_text())["rows"]] == ["ok", "ok"]
    assert "batch 256: " in err and "samples/s" in err


def test_suggest_command_prints_one_json_object_and_writes_the_suggestion(tmp_path, capsys):
    import json

    from kerasbatch.cli.app import run as cli

    code = cli(["suggest", "--dataset", "digits", "--model", "mlp", "--precision", "float32", "--json",
                "--candidates", "32,128,512", "--budget-seconds", "30", "--run", "--out", str(tmp_path), "--study", "s"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (line,) = out.strip().splitlines()
    got = json.loads(line)
    for key in ("batch_size", "learning_rate", "noise_scale", "noise_scale_interval", "predicted_speedup",
                "candidates"):
        assert key in got
    assert got["batch_size"] in (32, 128, 512) and [c["batch_size"] for c in got["candidates"]] == [32, 128, 512]
    low, high = got["noise_scale_interval"]
    assert 0 < low < got["noise_scale"] < high
    # The rate follows the noise-scale rule from the base rate 0.01 at batch 32.
    assert got["learning_rate"] == pytest.approx(0.01 * (1 + got["noise_scale"] / 32) / (1 + got["noise_scale"] / got["batch_size"]))
    assert got["predicted_speedup"] >= 1.0 - 1e-9  # batch 32 is a candidate: the choice is at least as good
    assert got["measured"]["status"] == "ok" and got["measured"]["run_id"] == f"suggested_bs{got['batch_size']}"
    assert json.loads((tmp_path / "s" / "suggestion.json").read_text())["batch_size"] == got["batch_size"]
    assert (tmp_path / "s" / "profile.json").is_file()
    # How sure it is: a level, its reasons, and the sizes it would defend, the choice among them.
    confidence = got["confidence"]
    assert confidence["level"] in ("confident", "uncertain") and (confidence["level"] == "confident") == (
        not confidence["reasons"])
    assert confidence["max_relative_error"] == 0.2 and confidence["target"] == 0.95
    low, high = confidence["batch_range"]
    assert low <= got["batch_size"] <= high and {low, high} <= {32, 128, 512}


def test_the_study_command_prints_the_mean_and_std_table_and_compare_shows_it_too(study, capsys):
    path, result = study
    code, out, err = call(capsys, "study", path, "--quick", "--repeats", "2", "--out", result.study_dir.parent,
                          "--quiet")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 4 and all(" ± " in line for line in lines[2:])
    assert max(len(line) for line in lines) <= 120
    code, compared, _ = call(capsys, "compare", result.study_dir)
    assert code == 0 and compared == out
    code, by_run, _ = call(capsys, "compare", result.study_dir, "--by-run")
    assert code == 0 and len(by_run.strip().splitlines()) == 2 + 8


def test_a_study_with_other_settings_in_the_same_folder_is_refused(study, capsys):
    path, result = study
    changed = path.parent / "changed.yaml"
    changed.write_text(path.read_text().replace("learning_rate: 0.05", "learning_rate: 0.1"))
    before = sorted(p.name for p in result.study_dir.iterdir())
    code, _, err = call(capsys, "study", changed, "--quick", "--repeats", "2", "--out", result.study_dir.parent)
    assert code == 2 and err.strip().startswith("error: ") and "learning_rate" in err
    assert sorted(p.name for p in result.study_dir.iterdir()) == before


@pytest.mark.parametrize("edit, message", [
    (lambda s: s + "batchsizes: [8]\n", "unknown setting 'batchsizes'"),
    (lambda s: s.replace("{name: none, lr_scaling: none}", "{lr_scaling: none}"), "arms[0] needs a name"),
    (lambda s: s.replace("name: linear,", "name: none,"), "arms[1].name repeats the name of an earlier arm"),
    (lambda s: s.replace("lr_scaling: linear}", "lr_scaling: cubic}"), "arm 'linear': lr_scaling must be one of"),
    (lambda s: s.replace("lr_scaling: linear}", "lr_scaling: linear, warmup: 2}"), "arm 'linear': unknown setting"),
    (lambda s: s.replace("epochs: 1", "epochs: 0"), "epochs must be a positive integer"),
    (lambda s: s.replace("repeats: 3", "repeats: -1"), "repeats must be a positive integer"),
])
def test_a_bad_study_file_is_one_error_line_and_writes_nothing(tmp_path, capsys, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(STUDY))
    out = tmp_path / "runs"
    code, _, err = call(capsys, "study", path, "--quick", "--repeats", "2", "--out", out)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not out.exists()


@pytest.mark.parametrize("where, says", [
    ("nowhere.json", "no suggestion at '{tmp}/nowhere.json'"),
    ("empty-study", "no suggestion at '{tmp}/empty-study/suggestion.json'"),
    ("study.json", "'{tmp}/study.json' holds no suggestion"),
])
def test_a_missing_or_invalid_suggestion_is_a_one_line_error_and_nothing_is_written(tmp_path, capsys, where, says):
    from kerasbatch.cli.app import run

    (tmp_path / "empty-study").mkdir()
    (tmp_path / "study.json").write_text('{"kind": "sweep", "settings": {}}')
    code = run(["tune", "--dataset", "dots", "--from-suggestion", str(tmp_path / where),
                "--out", str(tmp_path / "runs"), "--study", "s"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: from_suggestion: {says.format(tmp=tmp_path)}"), lines[0]
    assert not (tmp_path / "runs").exists()
