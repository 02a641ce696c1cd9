"""A run warm-started from an earlier run's weights counts from that training's first epoch."""

import dataclasses

import pandas as pd
import pytest

from kerasbatch.training import train
from kerasbatch.errors import ConfigError, StoreError
from kerasbatch.store import Store

from tests.conftest import dots_run


def test_a_warm_start_counts_epochs_history_and_time_to_target_from_the_first_epoch(tmp_path):
    store = Store(tmp_path, "w")
    config = dots_run(epochs=1, target=0.93, diagnostics=())
    first = train.run(config, store, "first", verbose=0)
    assert first.summary["seconds_to_target"] is None  # one epoch gets to about 0.85
    later = train.run(dataclasses.replace(config, epochs=6), store, "later", model=first.model, initial_epoch=1,
                      warm_start="first", verbose=0)
    s, spe = later.summary, first.summary["steps"]
    history = pd.read_csv(later.path / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    pd.testing.assert_frame_equal(history.iloc[:1], pd.read_csv(first.path / "history.csv"), check_like=True)
    assert history["steps"].tolist() == [spe * e for e in range(1, 7)]
    assert (history["elapsed"].iloc[1:] > first.summary["train_seconds"]).all()
    assert s["epochs"] == 6 and s["steps"] == 6 * spe and s["examples"] == 6 * spe * 32
    assert s["initial_epoch"] == 1 and s["warm_start"] == "first"
    reached = history.index[history["val_accuracy"] >= 0.93][0]
    assert s["epochs_to_target"] == history["epoch"][reached] >= 2  # counted from the first run's epoch
    assert s["steps_to_target"] == history["steps"][reached] and s["examples_to_target"] == 32 * s["steps_to_target"]
    # Training seconds only, on both sides of the warm start.
    earlier_training = first.summary["train_seconds"] - first.summary["eval_seconds"]
    assert earlier_training < s["seconds_to_target"] <= s["train_seconds"] - s["eval_seconds"]
    assert s["eval_seconds"] > first.summary["eval_seconds"] > 0
    assert s["best_val_accuracy"] == pytest.approx(history["val_accuracy"].max())

    # Continuing a run that had reached the target keeps the time it took.
    again = train.run(dataclasses.replace(config, epochs=7), store, "again", model=later.model, initial_epoch=6,
                      warm_start="later", verbose=0)
    assert {k: again.summary[k] for k in ("epochs_to_target", "steps_to_target", "seconds_to_target")} == \
        {k: s[k] for k in ("epochs_to_target", "steps_to_target", "seconds_to_target")}
    assert again.summary["epochs"] == 7 and again.summary["steps"] == 7 * spe


def test_a_warm_start_from_nothing_or_past_the_last_epoch_writes_nothing(tmp_path):
    store = Store(tmp_path, "w")
    with pytest.raises(StoreError, match="no finished run"):
        train.run(dots_run(epochs=2), store, "later", initial_epoch=1, warm_start="missing", verbose=0)
    with pytest.raises(ConfigError, match="initial_epoch"):
        train.run(dots_run(epochs=2), store, "later", initial_epoch=2, verbose=0)
    assert list(tmp_path.iterdir()) == []
