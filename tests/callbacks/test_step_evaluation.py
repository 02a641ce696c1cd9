"""Evaluating every few steps: the exact step to the target, evaluation time kept out, training untouched."""

import time

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbatch.callbacks import TimeToTarget
from kerasbatch.callbacks.step_evaluation import StepEvaluation, evaluate_keeping_metrics
from kerasbatch.training import train
from kerasbatch.config.run import DataConfig, ModelConfig, RunConfig
from kerasbatch.store import Store

from tests.callbacks.driver import FakeModel


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


def test_step_evaluation_keeps_its_examples_between_evaluations_across_a_switch(monkeypatch):
    from kerasbatch.callbacks import step_evaluation

    class Model:
        stop_training = False

    evaluation = step_evaluation.StepEvaluation(validation_data=None, every=8, batch_size=32)
    evaluation.set_model(Model())
    evaluated = []
    monkeypatch.setattr(step_evaluation, "evaluate_keeping_metrics",
                        lambda model, data: evaluated.append(evaluation._step) or {})
    for _ in range(10):
        evaluation.on_train_batch_end(0, {})
    evaluation.set_batch_size(128)  # 8 steps of 32 = 2 steps of 128
    for _ in range(5):
        evaluation.on_train_batch_end(0, {})
    assert evaluated == [8, 12, 14] and evaluation.every == 2


# digits at batch 512: 1294 training examples, two steps an epoch.
DIGITS_512 = dict(data=DataConfig(dataset="digits"), model=ModelConfig(name="mlp"), batch_size=512, epochs=6,
                  precision="float32", diagnostics=())
SLOW_EVALUATION = 0.1  # seconds added to each evaluation (one batch) of the run that measures what is left out


class StepValAccuracy(keras.callbacks.Callback):
    """The validation accuracy each step's logs hold (None where no evaluation ran)."""

    def on_train_begin(self, logs=None):
        self.values = []

    def on_train_batch_end(self, batch, logs=None):
        self.values.append(logs.get("val_accuracy"))


class WallToTarget(keras.callbacks.Callback):
    """Wall time from the start of training to the step at which training is told to stop, and the
    ``eval_seconds`` that step's logs hold."""

    def on_train_begin(self, logs=None):
        self.start, self.wall, self.eval_seconds = time.perf_counter(), None, None

    def on_train_batch_end(self, batch, logs=None):
        if self.model.stop_training and self.wall is None:
            self.wall, self.eval_seconds = time.perf_counter() - self.start, logs["eval_seconds"]


def slow_evaluation_pipeline(pipeline):
    """``data.pipeline`` whose evaluation pipelines take SLOW_EVALUATION seconds more for each batch."""

    def wait(x):
        time.sleep(SLOW_EVALUATION)
        return x

    def slowly(x, y):
        out = tf.py_function(wait, [x], x.dtype)
        out.set_shape(x.shape)
        return out, y

    def slow(*args, training, **kwargs):
        ds = pipeline(*args, training=training, **kwargs)
        return ds if training else ds.map(slowly)

    return slow


@pytest.fixture(scope="module")
def step_runs(tmp_path_factory):
    """Three digits runs at batch 512: evaluated every step (no target); at epoch ends only, with a
    target first reached in the middle of an epoch; and every step with that target, stopping there,
    with every evaluation made slower by SLOW_EVALUATION."""
    store = Store(tmp_path_factory.mktemp("runs"), "steps")
    recorder, traces = StepValAccuracy(), []
    test_step = keras.Model.test_step

    def counted_test_step(self, data):  # Python runs it only while tracing the evaluation function
        traces.append(1)
        return test_step(self, data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "test_step", counted_test_step)
        every_step = train.run(RunConfig(**DIGITS_512, eval_every_steps=1), store, "every_step", verbose=0,
                               callbacks=[recorder])
    values = recorder.values
    # An odd step (mid-epoch) whose accuracy is above every earlier one: the target is first reached there.
    step = next(s for s in range(3, len(values) + 1, 2) if values[s - 1] > max(values[:s - 1]))
    target = values[step - 1]
    epoch_end = train.run(RunConfig(**DIGITS_512, target=target), store, "epoch_end", verbose=0)
    wall = WallToTarget()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train.data, "pipeline", slow_evaluation_pipeline(train.data.pipeline))
        stopped = train.run(RunConfig(**DIGITS_512, target=target, eval_every_steps=1, stop_at_target=True),
                            store, "stopped", verbose=0, callbacks=[wall])
    return dict(every_step=every_step, epoch_end=epoch_end, stopped=stopped, values=values, step=step,
                target=target, traces=len(traces), wall=wall)


def test_evaluating_every_step_gives_the_exact_step_to_target(step_runs):
    step, epoch_end, stopped = step_runs["step"], step_runs["epoch_end"].summary, step_runs["stopped"].summary
    assert step % 2 == 1
    assert stopped["steps_to_target"] == step and stopped["examples_to_target"] == 512 * step
    assert stopped["epochs_to_target"] == (step + 1) // 2  # the epoch it was reached in
    # At epoch ends the same weights are seen one step later at the earliest.
    assert epoch_end["steps_to_target"] % 2 == 0 and epoch_end["steps_to_target"] > stopped["steps_to_target"]
    history = pd.read_csv(step_runs["every_step"].path / "history.csv")
    assert history["val_accuracy"].tolist() == pytest.approx(step_runs["values"][1::2])


def test_stop_at_target_with_step_evaluation_stops_at_that_step(step_runs):
    stopped = step_runs["stopped"]
    history = pd.read_csv(stopped.path / "history.csv")
    assert stopped.summary["steps"] == step_runs["step"] == history["steps"].iloc[-1]
    assert stopped.summary["epochs"] == len(history) == (step_runs["step"] + 1) // 2


def test_evaluation_time_is_recorded_and_left_out_of_seconds_to_target(step_runs):
    s, wall = step_runs["stopped"].summary, step_runs["wall"]
    # Up to the target: an evaluation at every step and fit's own validation at the end of each earlier epoch.
    assert wall.eval_seconds >= (step_runs["step"] + s["epochs"] - 1) * SLOW_EVALUATION
    assert s["seconds_to_target"] + wall.eval_seconds == pytest.approx(wall.wall, abs=0.05)  # not 0.4 s off
    # After the target only the epoch's own validation ran (and the logs were written).
    assert s["eval_seconds"] >= wall.eval_seconds + SLOW_EVALUATION
    assert s["seconds_to_target"] + s["eval_seconds"] <= s["train_seconds"]
    # Nor is it in the step timing: a step that held a 0.1 s evaluation would run below 5120 samples/s.
    assert s["samples_per_second"] > 512 / SLOW_EVALUATION


def test_step_evaluation_changes_no_training_figure_and_traces_evaluation_once(step_runs):
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    every_step, epoch_end = (pd.read_csv(step_runs[name].path / "history.csv")[columns]
                             for name in ("every_step", "epoch_end"))
    pd.testing.assert_frame_equal(every_step, epoch_end)
    assert step_runs["every_step"].summary["eval_seconds"] > step_runs["epoch_end"].summary["eval_seconds"] > 0
    assert step_runs["traces"] == 1  # 12 step evaluations and 6 epoch-end ones share one compiled function
