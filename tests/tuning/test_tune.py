"""The KerasTuner search: trials are ordinary runs, the search resumes, fails per trial, and spreads over processes."""

import csv
import dataclasses
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import keras_tuner as kt
import pytest

from kerasbatch.data import datasets as data
from kerasbatch.reports import tables
from kerasbatch.tuning import distributed as tune_distributed
from kerasbatch.tuning import internals as tuner_internals
from kerasbatch.config.commands import TuneConfig
from kerasbatch.config.run import OptimConfig
from kerasbatch.errors import ConfigError, DataError, KerasbatchError, StoreError
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import SUGGESTION, Store, write_json
from kerasbatch.learner.suggest import Suggestion
from kerasbatch.tuning.tune import UNREACHED_SECONDS, BatchSizeHyperModel, seconds_to_target_score, tune
from kerasbatch.tuning.tuners import best_hyperparameters, load_tuner
from tests.conftest import dots_run

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
    ENV.pop(name, None)


def search(**overrides) -> TuneConfig:
    fields = {"run": dots_run(diagnostics=()), "tuner": "random", "max_trials": 3, "batch_sizes": (16, 32, 64),
              "lr_range": (0.01, 0.5)}
    fields.update(overrides)
    return TuneConfig(**fields)


def summaries(study_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(study_dir.glob("trial_*/summary.json"))}


def mtimes(study_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in study_dir.glob("trial_*/summary.json")}


@pytest.fixture(scope="module")
def random_study(tmp_path_factory):
    store, lines = Store(tmp_path_factory.mktemp("runs"), "random"), []
    results = tune(search(), store, progress=StudyProgress(3, live=False, epoch_lines=False, write=lines.append),
                   verbose=0)
    return store, results, lines


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


def test_a_rerun_finishes_an_interrupted_trial_and_never_repeats_an_ended_one(random_study, tmp_path):
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    store, project = Store(tmp_path, "random"), tmp_path / "random" / "keras_tuner" / "search"
    oracle_path = project / "oracle.json"
    oracle = json.loads(oracle_path.read_text())
    # What stock KerasTuner's chief leaves behind: the last trial ended, yet still listed as ongoing.
    oracle["ongoing_trials"] = {"tuner1": "2"}
    oracle_path.write_text(json.dumps(oracle))
    before = mtimes(store.study_dir)
    results = tune(search(), store, verbose=0)
    assert all(r.skipped for r in results) and mtimes(store.study_dir) == before
    assert json.loads(oracle_path.read_text())["end_order"] == ["0", "1", "2"]

    # A process killed inside trial 1: KerasTuner lists it as running, the run folder has no summary.
    trial_path = project / "trial_1" / "trial.json"
    trial = json.loads(trial_path.read_text())
    trial.update(status="RUNNING", score=None, metrics={"metrics": {}})
    trial_path.write_text(json.dumps(trial))
    oracle = json.loads(oracle_path.read_text())
    oracle.update(ongoing_trials={"tuner0": "1"}, end_order=["0", "2"])
    oracle_path.write_text(json.dumps(oracle))
    (store.run_dir("trial_1") / "summary.json").unlink()
    results = tune(search(), store, verbose=0)
    assert [r.run_id for r in results if not r.skipped] == ["trial_1"]
    assert {k: v for k, v in mtimes(store.study_dir).items() if k != "trial_1"} == \
        {k: v for k, v in before.items() if k != "trial_1"}
    reloaded = load_tuner(store.study_dir).oracle
    assert reloaded.trials["1"].status == "COMPLETED" and reloaded.end_order == ["0", "2", "1"]
    assert reloaded.trials["1"].hyperparameters.values == trial["hyperparameters"]["values"]


def test_a_rerun_repairs_a_state_saved_halfway_by_a_killed_process(random_study, tmp_path):
    # KerasTuner saves a trial's file, then oracle.json; a process killed in between left one of these.
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    store, project = Store(tmp_path, "random"), tmp_path / "random" / "keras_tuner" / "search"
    oracle_path, trial_path = project / "oracle.json", project / "trial_2" / "trial.json"
    saved_oracle, saved_trial = json.loads(oracle_path.read_text()), json.loads(trial_path.read_text())
    before = mtimes(store.study_dir)

    # Trial 2 ended on file, but oracle.json still lists it running and not in end_order: it is ended once.
    oracle = {**saved_oracle, "ongoing_trials": {"tuner0": "2"}, "end_order": ["0", "1"]}
    oracle["run_times"] = {k: v for k, v in oracle["run_times"].items() if k != "2"}
    oracle_path.write_text(json.dumps(oracle))
    results = tune(search(), store, verbose=0)
    assert all(r.skipped for r in results) and mtimes(store.study_dir) == before
    reloaded = load_tuner(store.study_dir).oracle
    assert reloaded.end_order == ["0", "1", "2"] and reloaded.trials["2"].status == "COMPLETED"

    # Trial 2 created on file but never in oracle.json (so never handed out): it is created and run anew.
    oracle = {**saved_oracle, "start_order": ["0", "1"], "end_order": ["0", "1"], "ongoing_trials": {}}
    oracle["run_times"] = {k: v for k, v in oracle["run_times"].items() if k != "2"}
    oracle_path.write_text(json.dumps(oracle))
    trial_path.write_text(json.dumps({**saved_trial, "status": "RUNNING", "score": None, "metrics": {"metrics": {}}}))
    shutil.rmtree(store.run_dir("trial_2"))
    results = tune(search(), store, verbose=0)
    assert [(r.run_id, r.skipped, r.ok) for r in results] == [("trial_0", True, True), ("trial_1", True, True),
                                                                ("trial_2", False, True)]
    assert load_tuner(store.study_dir).oracle.end_order == ["0", "1", "2"]


def test_a_restarted_chief_waits_for_the_worker_whose_trial_it_kept(random_study, tmp_path):
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    oracle_path = tmp_path / "random" / "keras_tuner" / "search" / "oracle.json"
    oracle = json.loads(oracle_path.read_text())
    oracle.update(ongoing_trials={"tuner1": "2"}, end_order=["0", "1"])  # killed while tuner1 trained trial 2
    oracle_path.write_text(json.dumps(oracle))
    chief = load_tuner(tmp_path / "random").oracle
    chief.verbose, chief.max_trials = 0, 3
    tune_distributed.repair_reloaded_oracle(chief, keep_running=True)  # as in a chief's reload
    assert {k: t.trial_id for k, t in chief.ongoing_trials.items()} == {"tuner1": "2"}
    trial = chief.trials["2"]
    trial.status = "COMPLETED"  # tuner1 ends it, then asks for the next trial
    chief.end_trial(trial)
    # Not done before tuner1 is told that the search is over, or it would ask a chief that has exited.
    assert not tuner_internals.chief_idle(chief)
    assert chief.create_trial("tuner1").status == "STOPPED"
    assert tuner_internals.chief_idle(chief) and chief.end_order == ["0", "1", "2"]
    assert chief.trials["2"].score == pytest.approx(random_study[1][2].summary["best_val_accuracy"])


def test_keras_tuner_reloads_the_search_and_agrees_with_the_table(random_study):
    store = random_study[0]
    tuner = load_tuner(store.study_dir)
    trials = tuner.oracle.trials
    assert sorted(trials) == ["0", "1", "2"] and {t.status for t in trials.values()} == {"COMPLETED"}
    table = tables.study_table(store.study_dir).set_index("trial_id")
    for trial_id, trial in trials.items():
        assert trial.score == pytest.approx(table.loc[trial_id, "best_val_accuracy"])
        assert trial.hyperparameters.values["batch_size"] == table.loc[trial_id, "batch_size"]

    best = best_hyperparameters(store.study_dir)
    assert set(best) == {"batch_size", "learning_rate"}
    row = table[(table["batch_size"] == best["batch_size"]) & (table["learning_rate"] == best["learning_rate"])]
    assert len(row) == 1
    assert row["best_val_accuracy"].iloc[0] == table["best_val_accuracy"].max()

    # get_best_models reads the trial's own model.keras: it scores the trial's final validation accuracy.
    model = tuner.get_best_models(1)[0]
    dataset = data.load(dots_run().data)
    _, accuracy = model.evaluate(dataset.x_val, dataset.y_val, verbose=0)
    assert accuracy == pytest.approx(row["final_val_accuracy"].iloc[0], abs=1e-6)


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


def test_hyperband_warm_starts_its_second_round_from_the_best_first_round_trial(tmp_path):
    store = Store(tmp_path, "hyperband")
    # Every trial reaches so low a target in its first epoch: the warm-started one at its parent's time.
    config = search(run=dots_run(diagnostics=(), epochs=3, target=0.05), tuner="hyperband", max_trials=4)
    results = tune(config, store, verbose=0)
    assert [r.status for r in results] == ["ok"] * 4
    epochs = [r.summary["epochs"] for r in results]
    assert epochs == [1, 1, 1, 3]  # three 1-epoch trials, then the best continued from epoch 1 to 3
    first_round = {r.summary["trial_id"]: r.summary["best_val_accuracy"] for r in results[:3]}
    warm = results[3].summary
    parent = results[int(warm["warm_start"].removeprefix("trial_"))].summary
    assert warm["initial_epoch"] == 1
    assert first_round[parent["trial_id"]] == max(first_round.values())
    assert warm["hyperparameters"] == parent["hyperparameters"]
    source = store.study_dir / "keras_tuner" / "search" / f"trial_{parent['trial_id']}"
    assert (source / "checkpoint.weights.h5").is_file()
    assert set(best_hyperparameters(store.study_dir)) == {"batch_size", "learning_rate"}

    # The warm-started trial's run covers its whole training: the parent's epoch, then its own two.
    with open(results[3].path / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(store.run_dir(parent["run_id"]) / "history.csv", newline="") as fh:
        assert rows[0] == next(csv.DictReader(fh))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert [int(row["steps"]) for row in rows] == [parent["steps"] * e for e in (1, 2, 3)] == \
        [warm["steps"] // 3 * e for e in (1, 2, 3)]
    assert warm["train_seconds"] > float(rows[1]["elapsed"]) > parent["train_seconds"]
    assert parent["epochs_to_target"] == warm["epochs_to_target"] == 1
    assert 0 < warm["seconds_to_target"] == parent["seconds_to_target"] < parent["train_seconds"]


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


def write_suggestion(folder: Path, batch_size: int, learning_rate: float) -> Path:
    """The study folder of a ``kerasbatch suggest`` that chose ``batch_size`` at ``learning_rate``."""
    suggestion = Suggestion(batch_size=batch_size, learning_rate=learning_rate, noise_scale=200.0,
                            noise_scale_interval=(150.0, 260.0), batch_size_interval=(32, 128),
                            predicted_speedup=2.0, baseline_batch=32, candidates=[])
    folder.mkdir(parents=True)
    write_json(folder / SUGGESTION, suggestion.to_dict())
    return folder


def test_a_suggestion_centres_the_rate_range_on_its_rate_and_joins_the_batch_sizes(tmp_path):
    study = write_suggestion(tmp_path / "suggested", 48, 0.05)
    config = search(from_suggestion=str(study / SUGGESTION))  # searched: lr_range (0.01, 0.5), sizes 16,32,64
    half_width = math.sqrt(0.5 / 0.01)  # the range spans a factor 50: sqrt(50) either side of the rate
    assert config.lr_range == pytest.approx((0.05 / half_width, 0.05 * half_width))  # (0.00707, 0.354)
    assert math.sqrt(config.lr_range[0] * config.lr_range[1]) == pytest.approx(0.05)
    assert config.batch_sizes == (16, 32, 48, 64) and config.first_trial == (48, 0.05)
    # The study folder names the same suggestion; building the config again centres nothing twice.
    from_study = search(from_suggestion=str(study))
    assert (from_study.lr_range, from_study.first_trial) == (config.lr_range, config.first_trial)
    assert dataclasses.replace(config, max_trials=7).lr_range == config.lr_range

    # Under linear scaling the searched rate is the one for base_batch 32: trial 0 trains at 0.05 all the same.
    linear = search(from_suggestion=str(study), lr_scaling="linear")
    assert linear.first_trial == (48, pytest.approx(0.05 * 32 / 48))
    first = BatchSizeHyperModel(linear).trial_config(kt.HyperParameters())  # the defaults
    assert (first.batch_size, first.learning_rate) == (48, pytest.approx(0.05))
    assert search().first_trial is None


def test_a_search_from_a_suggestion_starts_at_it_and_a_resumed_one_does_not_start_again(tmp_path):
    study = write_suggestion(tmp_path / "suggested", 64, 0.05)
    store, run = Store(tmp_path, "started"), dots_run(diagnostics=(), epochs=1)
    results = tune(search(run=run, max_trials=2, from_suggestion=str(study)), store, verbose=0)
    chosen = [r.summary["hyperparameters"] for r in results]
    assert chosen[0] == {"batch_size": 64, "learning_rate": 0.05} and chosen[1] != chosen[0]
    assert load_tuner(store.study_dir).oracle.trials["0"].hyperparameters.values == chosen[0]
    settings = json.loads((store.study_dir / "study.json").read_text())["settings"]
    assert settings["lr_range"] == pytest.approx([0.05 / math.sqrt(50), 0.05 * math.sqrt(50)])
    assert settings["batch_sizes"] == [16, 32, 64]
    assert settings["first_trial"] == {"batch_size": 64, "learning_rate": 0.05}

    results = tune(search(run=run, max_trials=3, from_suggestion=str(study)), store, verbose=0)
    assert [r.run_id for r in results if not r.skipped] == ["trial_2"]
    assert results[2].summary["hyperparameters"]["learning_rate"] != 0.05  # drawn, not a second first trial
    other = write_suggestion(tmp_path / "other", 64, 0.1)
    with pytest.raises(StoreError, match="different settings"):  # another suggestion, another study
        tune(search(run=run, max_trials=3, from_suggestion=str(other)), store, verbose=0)


@pytest.mark.parametrize("tuner", ["bayesian", "hyperband"])
def test_bayesian_and_hyperband_searches_start_at_the_suggestion(tmp_path, tuner):
    study = write_suggestion(tmp_path / "suggested", 64, 0.05)
    # epochs 3: Hyperband's first bracket begins with 1-epoch trials.
    config = search(run=dots_run(diagnostics=(), epochs=3 if tuner == "hyperband" else 1), tuner=tuner,
                    max_trials=2, from_suggestion=str(study))
    results = tune(config, Store(tmp_path, tuner), verbose=0)
    chosen = [r.summary["hyperparameters"] for r in results]
    assert chosen[0] == {"batch_size": 64, "learning_rate": 0.05} and chosen[1] != chosen[0]
    if tuner == "hyperband":
        values = load_tuner(tmp_path / tuner).oracle.trials["0"].hyperparameters.values
        assert (values["tuner/bracket"], values["tuner/round"], values["tuner/epochs"]) == (1, 0, 1)
        assert results[0].summary["epochs"] == 1


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


def test_distribution_roles_come_from_keras_tuners_variables(monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert tune_distributed.role() == "solo"
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    with pytest.raises(ConfigError, match="KERASTUNER_TUNER_ID"):
        tune_distributed.role()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert tune_distributed.role() == "worker"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    with tune_distributed.environment() as role:
        assert role == "chief" and os.environ["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
    assert "KERASTUNER_ORACLE_IP" not in os.environ
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", free_port())  # nobody listens there
    started = time.perf_counter()
    with pytest.raises(KerasbatchError, match="start the chief first"):
        tune_distributed.wait_for_chief(timeout=1.0, poll=0.2)
    assert time.perf_counter() - started < 5.0


def test_a_second_chief_on_a_taken_port_fails_before_touching_the_study(random_study, tmp_path, monkeypatch):
    import grpc
    from concurrent import futures

    port = free_port()
    first = grpc.server(futures.ThreadPoolExecutor(max_workers=1))  # like a stock KerasTuner chief: SO_REUSEPORT on
    first.add_insecure_port(f"127.0.0.1:{port}")
    first.start()
    try:
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", port)
        with pytest.raises(KerasbatchError, match="port is in use"):
            tune_distributed.serve_chief(None, finished=lambda: True)
        shutil.copytree(random_study[0].study_dir, tmp_path / "random")
        store, before = Store(tmp_path, "random"), mtimes(tmp_path / "random")
        with pytest.raises(KerasbatchError, match="port is in use"):
            tune(search(overwrite=True), store, verbose=0)
        assert mtimes(store.study_dir) == before
        assert (store.study_dir / "keras_tuner" / "search" / "oracle.json").is_file()
    finally:
        first.stop(0)


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerasbatch.data import datasets as data
from kerasbatch.config.commands import TuneConfig
from kerasbatch.store import Store
from kerasbatch.tuning.tune import tune
from tests.conftest import dots_run
run = dots_run(strategy="mirrored", diagnostics=())
results = tune(TuneConfig(run=run, max_trials=2, batch_sizes=(32, 64), lr_range=(0.01, 0.1)), Store(sys.argv[1], "m"),
               verbose=0)
print(json.dumps({"n_train": data.load(run.data).n_train, "summaries": [r.summary for r in results]}))
"""


def test_mirrored_strategy_on_two_cpus_trains_the_global_batch(tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], check=False, capture_output=True,
                          text=True, timeout=240, env=ENV, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["summaries"]) == 2
    for summary in report["summaries"]:
        assert summary["status"] == "ok" and summary["strategy"] == "mirrored" and summary["replicas"] == 2
        # Every step took batch_size examples in all (each replica half): the batch size is the global one.
        assert summary["steps"] == summary["epochs"] * (report["n_train"] // summary["batch_size"])
        assert summary["examples"] == summary["steps"] * summary["batch_size"]


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def tune_command(out: Path, epochs: int = 2) -> list[str]:
    return [sys.executable, "-m", "kerasbatch", "tune", "--dataset", "dots", "--dots-samples", "600", "--model", "mlp",
            "--widths", "16", "--epochs", str(epochs), "--precision", "float32", "--diagnostics", "none",
            "--batch-sizes", "16,32,64", "--lr-range", "0.01,0.5", "--max-trials", "4", "--out", str(out),
            "--study", "shared"]


def start(command, tuner_id: str, port: str, log: Path) -> subprocess.Popen:
    env = {**ENV, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_PORT": port}
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def finish(processes: dict[str, subprocess.Popen], logs: Path, timeout: float) -> dict[str, int]:
    deadline, codes = time.monotonic() + timeout, {}
    try:
        for name, process in processes.items():
            codes[name] = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        states = "\n\n".join(f"== {n} (exit {p.poll()}):\n" + (logs / f"{n}.log").read_text()[-1500:]
                               for n, p in processes.items())
        pytest.fail(f"{name} still running after {timeout} s\n{states}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return codes


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"no {text!r} in {log.name}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def start_workers(command, port: str, logs: Path) -> dict[str, subprocess.Popen]:
    # Workers first: they wait for the chief's port instead of racing gRPC's reconnect back-off.
    workers = {name: start(command, name, port, logs / f"{name}.log") for name in ("tuner0", "tuner1")}
    for name in workers:
        wait_for_line(logs / f"{name}.log", "waiting for the chief at 127.0.0.1", timeout=120)
    return workers


def test_a_chief_and_two_workers_share_a_search_and_everyone_exits(tmp_path):
    out, port, command = tmp_path / "runs", free_port(), tune_command(tmp_path / "runs")
    workers = start_workers(command, port, tmp_path)
    started = time.monotonic()
    chief = start(command, "chief", port, tmp_path / "chief.log")
    codes = finish({**workers, "chief": chief}, tmp_path, timeout=150)
    assert codes == {"tuner0": 0, "tuner1": 0, "chief": 0}, (tmp_path / "chief.log").read_text()[-3000:]
    assert time.monotonic() - started < 100

    study = out / "shared"
    found = summaries(study)
    assert sorted(found) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(s["status"] == "ok" for s in found.values())
    by_worker = Counter(s["tuner_id"] for s in found.values())
    assert set(by_worker) == {"tuner0", "tuner1"} and min(by_worker.values()) >= 1
    oracle = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {}  # stock KerasTuner leaves the last trial listed here
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    assert set(oracle["run_times"].values()) == {1}
    chief_log = (tmp_path / "chief.log").read_text()
    assert f"chief on 127.0.0.1:{port}: random search, 0 of 4 trials done" in chief_log
    assert "[trial 4/4] batch " in chief_log

    # A chief started again on the finished study hands out nothing and exits on its own.
    before, started = mtimes(study), time.monotonic()
    again = start(command, "chief", port, tmp_path / "chief2.log")
    assert finish({"chief2": again}, tmp_path, timeout=60) == {"chief2": 0}
    assert time.monotonic() - started < 45
    assert mtimes(study) == before
    again = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert again["end_order"] == oracle["end_order"] and again["run_times"] == oracle["run_times"]
    assert again["ongoing_trials"] == {}
    assert "4 of 4 trials done" in (tmp_path / "chief2.log").read_text()


def test_a_chief_killed_mid_search_resumes_without_running_any_trial_twice(tmp_path):
    # The kill lands as the first trial ends, when the chief is saving: wherever it lands, the
    # restarted chief must load what was saved and finish the search with both workers.
    out, port, command = tmp_path / "runs", free_port(), tune_command(tmp_path / "runs", epochs=10)
    study = out / "shared"
    workers = start_workers(command, port, tmp_path)
    chief = start(command, "chief", port, tmp_path / "chief.log")
    deadline = time.monotonic() + 120
    while not list(study.glob("trial_*/summary.json")):
        assert time.monotonic() < deadline and chief.poll() is None, (tmp_path / "chief.log").read_text()[-3000:]
        time.sleep(0.1)
    chief.kill()
    chief.wait()
    assert len(summaries(study)) < 4  # killed with trials in flight on the workers
    restarted = start(command, "chief", port, tmp_path / "chief2.log")
    codes = finish({**workers, "chief2": restarted}, tmp_path, timeout=150)
    assert codes == {"tuner0": 0, "tuner1": 0, "chief2": 0}, (tmp_path / "chief2.log").read_text()[-3000:]
    found = summaries(study)
    assert sorted(found) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(s["status"] == "ok" for s in found.values())
    oracle = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"] and set(oracle["run_times"].values()) == {1}
    assert oracle["ongoing_trials"] == {}
