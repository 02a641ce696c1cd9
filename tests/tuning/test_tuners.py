"""The tuners: KerasTuner reloads a search, Hyperband warm-starts, every tuner starts at a suggestion."""

import csv
import json
import math

import pytest

from kerasbatch.data import datasets as data
from kerasbatch.reports import tables
from kerasbatch.errors import StoreError
from kerasbatch.store import Store
from kerasbatch.tuning.tune import tune
from kerasbatch.tuning.tuners import best_hyperparameters, load_tuner

from tests.conftest import dots_run
from tests.searches import search, write_suggestion


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
