import math
import time
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbatch.callbacks import HistoryFile, LearningRateLog, StopOnNonFinite, Throughput, TimeToTarget
from kerasbatch.callbacks.step_evaluation import StepEvaluation, evaluate_keeping_metrics
from kerasbatch.optim.schedules import WarmupSchedule


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


def test_step_time_median_and_p90_are_numpys_percentiles(monkeypatch):
    from kerasbatch.callbacks import throughput

    durations = [0.5, 0.1, 0.4, 0.2, 0.9, 0.3, 0.7]  # seconds, one per step after the skipped first
    clock = [0.0, 0.0]  # read by on_train_begin and on_epoch_begin
    for seconds in [1.0, *durations]:  # each step's begin and end, 50 ms apart
        clock += [clock[-1] + 0.05, clock[-1] + 0.05 + seconds]
    ticks = iter(clock + [clock[-1] + 0.05])
    meter = Throughput(batch_size=4, skip_steps=1)
    monkeypatch.setattr(throughput, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    meter.on_train_begin()
    meter.on_epoch_begin(0)
    for step in range(len(durations) + 1):
        meter.on_train_batch_begin(step)
        meter.on_train_batch_end(step)
    logs = {}
    meter.on_epoch_end(0, logs)
    assert logs["step_time_median"] == pytest.approx(np.median(durations))
    assert logs["step_time_p90"] == pytest.approx(np.percentile(durations, 90))


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


def test_history_file_appends_rows_without_new_columns_and_rewrites_for_a_new_one(tmp_path):
    path = tmp_path / "history.csv"
    writer = HistoryFile(path)
    writer.on_train_begin()
    logs = [{"loss": 0.9}, {"loss": 0.8, "gns": 40.0}, {"loss": 0.7, "gns": 41.0}, {"loss": 0.6},
            {"loss": 0.5, "gns": 43.0, "lr": 0.1}]
    files = []
    for epoch, row in enumerate(logs):
        writer.on_epoch_end(epoch, dict(row))
        files.append(path.stat().st_ino)
    # Epochs 3 and 4 add no column: appended to the file epoch 2 wrote; epoch 5's lr rewrites it.
    assert files[2] == files[3] and files[4] != files[3]
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["epoch", "loss", "lr", "gns"]
    assert frame["loss"].tolist() == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert frame["gns"].tolist()[1:3] == [40.0, 41.0] and math.isnan(frame["gns"][3])
    assert frame["lr"].tolist()[4] == 0.1 and frame["lr"].isna().sum() == 4


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


class SlowEvaluatingModel(FakeModel):
    """Stands in for a model whose ``evaluate`` takes ``seconds`` and returns the next accuracy."""

    metrics = ()

    def __init__(self, accuracies, seconds):
        self.accuracies, self.seconds = iter(accuracies), seconds

    def evaluate(self, data, verbose=0, return_dict=True):
        time.sleep(self.seconds)
        return {"loss": 1.0, "accuracy": next(self.accuracies)}


def drive_in_order(callbacks, model, epochs, steps, on_epoch_end=lambda epoch: None):
    """Call several callbacks' hooks as fit does: each hook on every callback in order, on one logs dict;
    before each epoch's end, ``on_epoch_end(epoch)`` stands for the validation between them."""
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin()
    for epoch in range(epochs):
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        for step in range(steps):
            logs = {"loss": 1.0}
            for callback in callbacks:
                callback.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        logs = on_epoch_end(epoch) or {}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if model.stop_training:
            return


def test_step_evaluation_finds_the_target_at_its_step_and_leaves_evaluation_time_out():
    model = SlowEvaluatingModel([0.2, 0.5, 0.7, 0.9], seconds=0.05)
    evaluation = StepEvaluation(validation_data=None, every=1)
    tracker = TimeToTarget(0.7, batch_size=512, stop=True)
    started = time.perf_counter()
    drive_in_order([evaluation, tracker], model, epochs=3, steps=2)
    wall = time.perf_counter() - started
    # Reached at the third step, in the middle of the second epoch; the epoch's end would say step 4.
    assert tracker.reached["steps_to_target"] == 3 and tracker.reached["epochs_to_target"] == 2
    assert tracker.reached["examples_to_target"] == 3 * 512 and model.stop_training
    assert evaluation.evaluations == 3 and evaluation.eval_seconds >= 3 * 0.05
    assert 0 < tracker.reached["seconds_to_target"] < 0.05  # the 0.15 s of evaluating is not in it
    assert tracker.reached["seconds_to_target"] + evaluation.eval_seconds == pytest.approx(wall, abs=0.05)


def test_step_evaluation_keeps_the_rhythm_of_a_continued_run_and_times_epoch_end_validation():
    model = SlowEvaluatingModel([0.1, 0.2], seconds=0.0)
    evaluation = StepEvaluation(validation_data=None, every=4, initial_step=6)
    seen, steps = [], []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)
            if "val_accuracy" in logs:
                seen.append((6 + len(steps), logs["val_accuracy"]))

    def validate(epoch):  # what fit's own validation looks like to the callbacks
        evaluation.on_test_begin()
        time.sleep(0.02)
        evaluation.on_test_end()
        return {"val_accuracy": 0.3}

    drive_in_order([evaluation, Watch()], model, epochs=2, steps=3, on_epoch_end=validate)
    assert seen == [(8, 0.1), (12, 0.2)]  # steps 7 to 12 of the whole training
    assert evaluation.evaluations == 4 and evaluation.eval_seconds >= 2 * 0.02


def test_evaluating_inside_fit_leaves_the_training_metrics_as_they_were():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 2, 64)
    xv, yv = rng.normal(size=(40, 3)).astype("float32"), rng.integers(0, 2, 40)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # the metrics now hold the epoch's sums
    validation = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16)
    before = {name: float(value) for name, value in model.get_metrics_result().items()}
    results = evaluate_keeping_metrics(model, validation)
    assert {name: float(value) for name, value in model.get_metrics_result().items()} == before
    plain = model.evaluate(validation, verbose=0, return_dict=True)
    assert results == pytest.approx(plain) and results["loss"] != pytest.approx(before["loss"])
    # Plain evaluate leaves the validation figures in the metrics: what the restore is for.
    assert {name: float(value) for name, value in model.get_metrics_result().items()} == pytest.approx(plain)
