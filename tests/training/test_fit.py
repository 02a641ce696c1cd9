"""Training in segments: the model and its optimizer go on across a switch of the batch size, also in
mid-epoch."""

import keras
import pandas as pd

from kerasbatch.training import train
from kerasbatch.config.run import RunConfig
from kerasbatch.store import Store

from tests.conftest import DIGITS


def test_model_and_optimizer_state_survive_a_switch(increase_run):
    history = pd.read_csv(increase_run.path / "history.csv")
    model = increase_run.model
    # One optimizer throughout: its step count is the whole run's, not the last segment's.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == history["steps"].iloc[-1] == 2 * 40 + 2 * 4
    # The loss goes on from where it was: no jump back towards the untrained loss (about 2.3).
    assert history["loss"].iloc[2] < 0.5 * history["loss"].iloc[0]
    assert history["val_loss"].iloc[2] <= history["val_loss"].iloc[1] * 1.05
    assert increase_run.summary["train_traces"] == 1


def test_adapt_every_steps_switches_in_mid_epoch_with_one_row_per_epoch(tmp_path, monkeypatch):
    from kerasbatch.training.schedules import adaptive as batch_schedule
    from kerasbatch.training.schedules.plan import Decision

    # The policy is tested above; here a stub that always doubles exercises the segments.
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
