"""Which run is best: ok runs ranked by a metric, a search by its objective, repeats by their mean."""

from __future__ import annotations

import pytest

from kerasbatch.reports import best as ranking
from kerasbatch.errors import KerasbatchError
from kerasbatch.store import read_json, write_json

from tests.study_factory import make_study
from tests.reports.helpers import _repeated_study


def _best(study, column, pick):
    summaries = [read_json(p) for p in study.glob("*/summary.json")]
    ranked = [s for s in summaries if s["status"] == "ok" and s.get(column) is not None]
    return study / pick(ranked, key=lambda s: s[column])["run_id"]


def test_best_run_ranks_ok_runs_by_metric_ignoring_failed_and_unreached_runs(tmp_path):
    # bs32 would win on both counts, but it failed; bs1024 never reached the target.
    study = make_study(tmp_path, batch_sizes=(32, 64, 256, 1024))
    write_json(study / "bs32" / "summary.json", {**read_json(study / "bs32" / "summary.json"), "status": "error",
                                                 "best_val_accuracy": 0.999, "seconds_to_target": 0.001})
    by_accuracy = ranking.best_run(study)
    assert by_accuracy == ranking.best_run(study, "val_accuracy") == _best(study, "best_val_accuracy", max)
    assert by_accuracy == study / "bs64"
    assert read_json(study / "bs1024" / "summary.json")["seconds_to_target"] is None
    assert ranking.best_run(study, "seconds_to_target") == _best(study, "seconds_to_target", min) == study / "bs256"


def test_best_run_of_a_tune_study_defaults_to_its_objective(tmp_path):
    study = make_study(tmp_path, batch_sizes=(64, 256, 256), kind="tune")
    manifest = read_json(study / "study.json")
    manifest["settings"]["objective"] = "seconds_to_target"
    write_json(study / "study.json", manifest)
    fastest = ranking.best_run(study, "seconds_to_target")
    assert ranking.best_run(study) == fastest != ranking.best_run(study, "val_accuracy")


def test_best_run_without_an_ok_run_or_with_an_unknown_metric_is_an_error(tmp_path):
    failed = make_study(tmp_path, "failed", batch_sizes=(32, 64), failed=(32, 64))
    with pytest.raises(KerasbatchError, match="no ok run"):
        ranking.best_run(failed)
    unreached = make_study(tmp_path, "unreached", batch_sizes=(1024, 2048))
    with pytest.raises(KerasbatchError, match="has a seconds_to_target"):
        ranking.best_run(unreached, "seconds_to_target")
    with pytest.raises(KerasbatchError, match="unknown metric 'loss'"):
        ranking.best_run(unreached, "loss")


def test_the_best_run_of_a_study_with_repeats_is_the_best_seed_of_the_best_mean(tmp_path):
    # One lucky seed of "none" at batch 256 beats every run, but "linear" at batch 32 is better on average.
    scores = {("linear", 32): (0.95, 0.96, 0.94), ("linear", 256): (0.90, 0.91, 0.92),
              ("none", 32): (0.80, 0.81, 0.82), ("none", 256): (0.70, 0.99, 0.71)}
    study = _repeated_study(tmp_path, accuracy=lambda arm, b, seed: scores[arm, b][seed])
    assert ranking.best_run(study).name == "linear-bs32-s1"
    with pytest.raises(KerasbatchError, match="seconds_to_target to rank by"):
        ranking.best_run(study, "seconds_to_target")  # no run recorded one


def test_a_setting_with_a_failed_seed_ranks_after_complete_ones(tmp_path):
    scores = {("a", 32): (0.99, 0.98), ("a", 256): (0.90, 0.91)}
    study = _repeated_study(tmp_path, arms=("a",), seeds=(0, 1), accuracy=lambda arm, b, seed: scores[arm, b][seed])
    summary_path = study / "a-bs32-s1" / "summary.json"
    summary_path.write_text(summary_path.read_text().replace('"status": "ok"', '"status": "diverged"'))
    assert ranking.best_run(study).name == "a-bs256-s1"
