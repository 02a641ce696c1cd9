"""One fit per run, whatever the batch schedule: the model and its optimizer go on across a switch of the
batch size, also in mid-epoch, and the train step is traced once."""

import json

import keras
import pandas as pd
import pytest

from kerasbatch.cli.app import run as cli
from kerasbatch.training import train
from kerasbatch.config.run import RunConfig
from kerasbatch.store import Store

from tests.conftest import DIGITS


def test_model_and_optimizer_state_survive_a_switch(increase_run):
    history = pd.read_csv(increase_run.path / "history.csv")
    model = increase_run.model
    # One optimizer throughout: its step count is the steps taken, not the calls that found an epoch's end.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == history["steps"].iloc[-1] == 2 * 40 + 2 * 4
    # The loss goes on from where it was: no jump back towards the untrained loss (about 2.3).
    assert history["loss"].iloc[2] < 0.5 * history["loss"].iloc[0]
    assert history["val_loss"].iloc[2] <= history["val_loss"].iloc[1] * 1.05
    assert increase_run.summary["train_traces"] == 1


def test_adapt_every_steps_switches_in_mid_epoch_with_one_row_per_epoch(tmp_path, monkeypatch):
    from kerasbatch.training.schedules import adaptive as batch_schedule
    from kerasbatch.training.schedules.plan import Decision

    # The policy has its own tests; here a stub that always doubles exercises the switches.
    monkeypatch.setattr(batch_schedule.AdaptivePolicy, "choose",
                        lambda self, current, *a, **k: Decision(min(2 * current, self.max_batch), 2.0, "doubling"))
    config = RunConfig(**DIGITS, batch_size=32, epochs=2, batch_schedule="adaptive", adapt_every_steps=10,
                       max_batch=128, diagnostics=("gns",), diagnostics_every=5)
    result = train.run(config, Store(tmp_path, "mid"), verbose=0)
    n_train = train.data.load(config.data).n_train
    history = pd.read_csv(result.path / "history.csv")
    # Epoch 1: 10 steps at 32, 10 at 64, then the rest of the epoch at 128; epoch 2 at 128.
    first = 10 + 10 + (n_train - 320 - 640) // 128
    assert [(e["step"], e["batch_size"]) for e in result.summary["schedule"]] == [(0, 32), (10, 64), (20, 128)]
    assert history["epoch"].tolist() == [1, 2] and history["batch_size"].tolist() == [128, 128]
    assert history["steps"].tolist() == [first, first + n_train // 128]
    assert history["examples"].iloc[0] == 320 + 640 + (first - 20) * 128
    assert int(keras.ops.convert_to_numpy(result.model.optimizer.iterations)) == history["steps"].iloc[-1]
    assert history["val_accuracy"].notna().all() and history["loss"].iloc[1] < history["loss"].iloc[0]
    assert result.summary["train_traces"] == 1


def test_the_readme_adaptive_digits_command_changes_the_batch_at_least_twice(tmp_path):
    # The README's command, as a user types it: no profile, no --adapt-every-steps.
    code = cli(["train", "--dataset", "digits", "--model", "mlp", "--batch-size", "32", "--batch-schedule", "adaptive",
                "--epochs", "6", "--out", str(tmp_path), "--study", "a", "--quiet"])
    summary = json.loads((tmp_path / "a" / "adaptive_bs32" / "summary.json").read_text())
    sizes = [entry["batch_size"] for entry in summary["schedule"]]
    assert code == 0 and summary["status"] == "ok"
    assert len(sizes) >= 3 and sizes[0] == 32 and all(a != b for a, b in zip(sizes, sizes[1:]))
    assert summary["train_traces"] == 1 and summary["final_batch_size"] == sizes[-1]
    # Each switch costs a few assignments, far less than the seconds the run takes.
    assert all(0 < s < 0.05 for s in summary["switch_seconds"])


@pytest.mark.parametrize("schedule", ["fixed", "adaptive", "increase"])
def test_every_schedule_trains_in_one_fit_with_one_trace(tmp_path, monkeypatch, schedule):
    calls = []
    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **k: calls.append(1) or fit(self, *a, **k))
    flat = {"dataset": "digits", "model": "mlp", "precision": "float32", "epochs": 4, "batch_size": 32,
            "batch_schedule": schedule, "max_batch": 320, "adapt_every_steps": 5}
    if schedule == "increase":
        flat["schedule"] = "step"  # the decay whose drops it replaces
    config = RunConfig.from_flat(flat)
    result = train.run(config, Store(tmp_path, "s"), verbose=0)
    assert result.ok and calls == [1] and result.summary["train_traces"] == 1
    if schedule == "increase":
        assert [e["batch_size"] for e in result.summary["schedule"]] == [32, 320, 320]
    history = result.history
    # Epochs keep their meaning: every epoch is one pass, counted at each step's batch.
    n_train = train.validate(config, model=False).n_train
    per_epoch = [b - a for a, b in zip([0] + [r["examples"] for r in history], [r["examples"] for r in history])]
    assert all(n_train - row_batch < n <= n_train for n, row_batch in zip(per_epoch, [r["batch_size"] for r in history]))
    assert int(keras.ops.convert_to_numpy(result.model.optimizer.iterations)) == history[-1]["steps"]
