import math

import keras
import numpy as np
import pandas as pd
import pytest

from kerasbatch.callbacks import HistoryFile, LearningRateLog, StopOnNonFinite, Throughput, TimeToTarget
from kerasbatch.optim import WarmupSchedule


class FakeModel:
    stop_training = False


def drive(callback, epochs, steps, logs_for_epoch=lambda e: {}, model=None):
    """Call a callback's hooks as fit does, and return the epoch logs it saw."""
    callback.set_model(model or FakeModel())
    callback.on_train_begin()
    seen = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        for step in range(steps):
            callback.on_train_batch_begin(step)
            callback.on_train_batch_end(step, {"loss": 1.0})
        logs = dict(logs_for_epoch(epoch))
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
    callback.on_train_end()
    return seen


def test_throughput_skips_the_first_steps_and_counts_examples():
    meter = Throughput(batch_size=8, skip_steps=3)
    logs = drive(meter, epochs=2, steps=2)
    assert math.isnan(logs[0]["samples_per_second"])  # both steps of epoch 1 were skipped
    assert logs[1]["samples_per_second"] > 0
    assert [l["steps"] for l in logs] == [2, 4] and [l["examples"] for l in logs] == [16, 32]
    assert meter.timed_steps == 1 and meter.samples_per_second > 0
    assert logs[1]["elapsed"] >= logs[1]["seconds"] > 0


def test_throughput_state_resets_between_fits():
    meter = Throughput(batch_size=4, skip_steps=0)
    drive(meter, 1, 3)
    drive(meter, 1, 2)
    assert meter.steps == 2 and meter.timed_steps == 2


def test_time_to_target_records_first_arrival_and_can_stop():
    model = FakeModel()
    tracker = TimeToTarget(0.9, batch_size=10, stop=True)
    drive(tracker, 3, 5, lambda e: {"val_accuracy": [0.5, 0.91, 0.95][e]}, model=model)
    assert tracker.reached["epochs_to_target"] == 2
    assert tracker.reached["steps_to_target"] == 10 and tracker.reached["examples_to_target"] == 100
    assert tracker.reached["seconds_to_target"] > 0 and model.stop_training


def test_time_to_target_never_reached():
    tracker = TimeToTarget(0.99, batch_size=10)
    drive(tracker, 2, 1, lambda e: {"val_accuracy": 0.5})
    assert tracker.reached is None


def test_non_finite_loss_stops_and_records_the_step():
    model, stopper = FakeModel(), StopOnNonFinite()
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_train_batch_end(0, {"loss": 0.3})
    assert stopper.diverged_at_step is None
    stopper.on_train_batch_end(1, {"loss": float("nan")})
    assert stopper.diverged_at_step == 2 and model.stop_training


def test_history_file_keeps_columns_that_appear_later(tmp_path):
    writer = HistoryFile(tmp_path / "history.csv")
    drive(writer, 3, 1, lambda e: {"loss": 1.0 / (e + 1), **({"gns": 40.0 + e} if e else {})})
    frame = pd.read_csv(tmp_path / "history.csv")
    assert list(frame.columns) == ["epoch", "loss", "gns"]
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert math.isnan(frame["gns"][0]) and frame["gns"][2] == 42.0
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_learning_rate_log_reports_the_rate_of_the_last_step():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    schedule = WarmupSchedule(peak_lr=1.0, total_steps=100, warmup_steps=10, start_lr=0.0)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    model.fit(np.ones((4, 1)), np.ones((4, 1)), batch_size=1, epochs=1, verbose=0)  # 4 steps: 0..3
    log = LearningRateLog()
    log.set_model(model)
    logs = {}
    log.on_epoch_end(0, logs)
    assert logs["lr"] == pytest.approx(0.3)
    assert "loss_scale" not in logs
