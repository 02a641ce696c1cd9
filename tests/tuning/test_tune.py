"""The KerasTuner search: trials are ordinary runs, a rerun trains nothing twice, a trial fails on its own."""

import json
import math
import shutil
import time

import keras_tuner as kt
import pytest

from kerasbatch.reports import tables
from kerasbatch.config.run import OptimConfig
from kerasbatch.errors import ConfigError, DataError, KerasbatchError, StoreError
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import Store
from kerasbatch.tuning.tune import UNREACHED_SECONDS, BatchSizeHyperModel, seconds_to_target_score, tune
from kerasbatch.tuning.tuners import best_hyperparameters, load_tuner

from tests.conftest import dots_run
from tests.searches import mtimes, search, summaries


def test_random_search_trains_each_trial_as_a_run_of_the_study(random_study):
    store, results, lines = random_study
    assert [r.run_id for r in results] == ["trial_0", "trial_1", "trial_2"]
    assert all(r.ok and not r.skipped for r in results)
    table = tables.study_table(store.study_dir)
    assert len(table) == 3
    assert sorted(table["trial_id"]) == ["0", "1", "2"]
    pairs = set(zip(table["batch_size"], table["learning_rate"]))
    assert len(pairs) == 3
    assert set(table["batch_size"]) <= {16, 32, 64}
    assert all(0.01 <= lr <= 0.5 for lr in table["learning_rate"])
    for run_id, summary in summaries(store.study_dir).items():
        assert summary["status"] == "ok" and summary["run_id"] == run_id
        assert summary["tuner_id"] == "tuner0"
        # The run really trained at the trial's values: its config is the trial's hyperparameters.
        config = json.loads((store.run_dir(run_id) / "config.json").read_text())["config"]
        assert config["batch_size"] == summary["hyperparameters"]["batch_size"]
        assert config["optim"]["learning_rate"] == summary["hyperparameters"]["learning_rate"]
        assert (store.run_dir(run_id) / "model.keras").is_file()
    assert lines[0] == "random search, 0 of 3 trials done"
    assert lines[1].startswith("[trial 1/3] batch ") and lines[2].startswith("[trial 1/3] batch ")
    assert " ok, val_accuracy " in lines[2] and lines[2].endswith(" s")
    # KerasTuner kept no per-epoch weight checkpoints for random search.
    assert list(store.study_dir.glob("keras_tuner/search/trial_*/checkpoint.weights.h5")) == []


def test_rerun_trains_nothing_more_trials_continue_and_overwrite_starts_over(random_study, tmp_path):
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    store = Store(tmp_path, "random")
    before = mtimes(store.study_dir)
    started = time.perf_counter()
    results = tune(search(), store, verbose=0)
    assert time.perf_counter() - started < 5.0
    assert [r.run_id for r in results] == ["trial_0", "trial_1", "trial_2"] and all(r.skipped for r in results)
    assert mtimes(store.study_dir) == before

    results = tune(search(max_trials=4), store, verbose=0)  # max_trials is not part of the study's identity
    assert [r.run_id for r in results if not r.skipped] == ["trial_3"]
    assert {k: v for k, v in mtimes(store.study_dir).items() if k != "trial_3"} == before

    results = tune(search(max_trials=2, overwrite=True), store, verbose=0)
    assert [r.run_id for r in results] == ["trial_0", "trial_1"] and not any(r.skipped for r in results)
    after = mtimes(store.study_dir)
    assert sorted(after) == ["trial_0", "trial_1"]
    assert all(after[k] > before[k] for k in after)
    assert len(load_tuner(store.study_dir).oracle.trials) == 2


def test_seconds_to_target_ranks_a_trial_that_never_gets_there_below_every_one_that_does():
    reached_slowly = {"seconds_to_target": 9e5, "best_val_accuracy": 0.95, "target": 0.9, "train_seconds": 9e5}
    never_close = {"seconds_to_target": None, "best_val_accuracy": 0.89, "target": 0.9, "train_seconds": 2.0}
    never_far = {"seconds_to_target": None, "best_val_accuracy": 0.5, "target": 0.9, "train_seconds": 1.0}
    diverged = {"seconds_to_target": None, "best_val_accuracy": math.nan, "target": 0.9, "train_seconds": 0.1}
    scores = [seconds_to_target_score(s) for s in (reached_slowly, never_close, never_far, diverged)]
    assert scores[0] == 9e5
    assert scores == sorted(scores)  # nearer the target ranks better among trials that never got there
    assert all(math.isfinite(s) for s in scores)  # the Gaussian process of Bayesian search needs numbers
    assert scores[1] == pytest.approx(UNREACHED_SECONDS * 1.01 + 20.0)


def test_a_diverging_trial_fails_for_keras_tuner_and_the_search_goes_on(tmp_path):
    # With this seed the first trial draws a rate of ~4900 (the loss goes to NaN) and the second ~0.045.
    config = search(run=dots_run(diagnostics=(), seed=1, target=0.6, optim=OptimConfig(lr_scaling="none")),
                    lr_range=(1e-3, 1e4), max_trials=2, objective="seconds_to_target")
    store, lines = Store(tmp_path, "fails"), []
    results = tune(config, store, progress=StudyProgress(config.max_trials, live=False, write=lines.append), verbose=0)
    assert [(r.run_id, r.status) for r in results] == [("trial_0", "diverged"), ("trial_1", "ok")]
    assert results[0].summary["hyperparameters"]["learning_rate"] > 100
    assert "NaN" in results[0].summary["error"] and not (results[0].path / "model.keras").exists()
    assert any("diverged" in line for line in lines)

    trials = load_tuner(store.study_dir).oracle.trials
    assert trials["0"].status == "FAILED" and "diverged" in trials["0"].message
    assert trials["1"].status == "COMPLETED"
    assert trials["1"].score == pytest.approx(results[1].summary["seconds_to_target"])
    assert best_hyperparameters(store.study_dir) == results[1].summary["hyperparameters"]


def test_a_stock_keras_tuner_tuner_drives_the_hypermodel(tmp_path):
    store = Store(tmp_path, "stock")
    tuner = kt.RandomSearch(BatchSizeHyperModel(search(max_trials=2), store),
                            objective=kt.Objective("val_accuracy", "max"), max_trials=2, seed=3,
                            directory=str(store.study_dir / "keras_tuner"), project_name="search")
    tuner.search(verbose=0)
    found = summaries(store.study_dir)
    assert sorted(found) == ["trial_0", "trial_1"]  # the trial ids come from KerasTuner's own callback
    assert [s["status"] for s in found.values()] == ["ok", "ok"]
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.score == pytest.approx(max(s["best_val_accuracy"] for s in found.values()))
    assert found[f"trial_{best.trial_id}"]["hyperparameters"]["batch_size"] == best.hyperparameters["batch_size"]
    with pytest.raises(kt.errors.FatalTypeError):  # the data is the config's, not search()'s
        BatchSizeHyperModel(search(), store).fit(kt.HyperParameters(), None, [1, 2, 3])


def test_mistakes_are_reported_before_anything_is_written(tmp_path, monkeypatch):
    with pytest.raises(DataError):
        tune(search(batch_sizes=(16, 5000)), Store(tmp_path, "big"), verbose=0)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    with pytest.raises(ConfigError, match="KERASTUNER_ORACLE_PORT"):
        tune(search(), Store(tmp_path, "noport"), verbose=0)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.delenv("KERASTUNER_TUNER_ID")
    store = Store(tmp_path, "sweep")
    store.claim_study("sweep", {"batch_sizes": [32]})
    with pytest.raises(StoreError, match="sweep study"):
        tune(search(overwrite=True), store, verbose=0)
    assert json.loads((store.study_dir / "study.json").read_text())["kind"] == "sweep"
    with pytest.raises(KerasbatchError, match="no KerasTuner search"):
        load_tuner(store.study_dir)
