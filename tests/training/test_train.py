import dataclasses
import json
import time
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbatch.training import scope as global_state
from kerasbatch.training import train
from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.errors import ConfigError, DataError, StoreError
from kerasbatch.store import Store
from kerasbatch.studies.sweep import sweep
from tests.conftest import dots_run

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds",
                   "samples_per_second", "steps", "examples"]
SUMMARY_KEYS = ["status", "batch_size", "learning_rate", "precision", "best_val_accuracy", "final_val_accuracy",
                "epochs_to_target", "steps_to_target", "examples_to_target", "seconds_to_target",
                "samples_per_second", "train_seconds", "generalization_gap"]


@pytest.fixture(scope="module")
def dots_result(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("runs"), "dots")
    return train.run(dots_run(epochs=3, target=0.6, diagnostics=()), store, verbose=0)


def test_a_run_writes_every_file_of_the_layout(dots_result):
    names = {p.name for p in dots_result.path.iterdir()}
    assert {"config.json", "history.csv", "summary.json", "model.keras", "tb"} <= names
    assert not [n for n in names if ".tmp" in n]
    assert list((dots_result.path / "tb").rglob("events.out.tfevents.*"))


def test_history_has_one_row_per_epoch_with_the_required_columns(dots_result):
    history = pd.read_csv(dots_result.path / "history.csv")
    assert set(HISTORY_COLUMNS) <= set(history.columns)
    assert history["epoch"].tolist() == [1, 2, 3]
    steps_per_epoch = 384 // 32  # 600 dots: 120 test, 48 validation, 432 train → 13 full batches
    steps_per_epoch = len(train.data.load(dots_run().data).x_train) // 32
    assert history["steps"].tolist() == [steps_per_epoch * e for e in (1, 2, 3)]
    assert history["examples"].tolist() == [32 * steps_per_epoch * e for e in (1, 2, 3)]
    assert np.allclose(history["lr"], 0.05)
    assert history["samples_per_second"].iloc[1:].gt(0).all()


def test_summary_holds_the_required_fields(dots_result):
    summary = json.loads((dots_result.path / "summary.json").read_text())
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary["status"] == "ok" and summary["precision"] == "float32"
    assert summary["batch_size"] == 32 and summary["learning_rate"] == pytest.approx(0.05)
    history = pd.read_csv(dots_result.path / "history.csv")
    assert summary["best_val_accuracy"] == pytest.approx(history["val_accuracy"].max())
    assert summary["final_val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1])
    reached = history.index[history["val_accuracy"] >= 0.6][0]
    assert summary["epochs_to_target"] == reached + 1
    assert summary["steps_to_target"] == history["steps"][reached]
    assert summary["examples_to_target"] == history["examples"][reached]
    assert 0 < summary["seconds_to_target"] <= summary["train_seconds"]
    assert summary["generalization_gap"] == pytest.approx(summary["train_accuracy"] - summary["test_accuracy"])


def test_saved_model_reloads_and_predicts_like_the_trained_one(dots_result):
    reloaded = keras.saving.load_model(dots_result.path / "model.keras")
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), dots_result.model.predict(x, verbose=0), atol=1e-6)


def test_same_seed_gives_the_same_history(tmp_path):
    config = dots_run(epochs=2, diagnostics=(), optim=OptimConfig(learning_rate=0.05), model=ModelConfig(
        name="mlp", widths=(16,), dropout=0.2))
    a = train.run(config, Store(tmp_path, "a"), verbose=0)
    b = train.run(config, Store(tmp_path, "b"), verbose=0)
    c = train.run(config.__class__(**{**config.__dict__, "seed": 1}), Store(tmp_path, "c"), verbose=0)
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    frame = {k: pd.read_csv(r.path / "history.csv")[columns] for k, r in zip("abc", (a, b, c))}
    pd.testing.assert_frame_equal(frame["a"], frame["b"])
    assert not frame["a"].equals(frame["c"])


def test_rerun_skips_a_finished_run_and_redoes_an_incomplete_one(tmp_path):
    store = Store(tmp_path, "s")
    first = train.run(dots_run(epochs=1, diagnostics=()), store, verbose=0)
    again = train.run(dots_run(epochs=1, diagnostics=()), store, verbose=0)
    assert again.skipped and again.summary == json.loads((first.path / "summary.json").read_text())
    (first.path / "summary.json").unlink()
    redone = train.run(dots_run(epochs=1, diagnostics=()), store, verbose=0)
    assert not redone.skipped and (redone.path / "summary.json").exists()


def test_finished_run_with_other_settings_is_a_usage_error(tmp_path):
    store = Store(tmp_path, "s")
    train.run(dots_run(epochs=1, diagnostics=()), store, verbose=0)
    with pytest.raises(StoreError, match="epochs: 1 → 2"):
        train.run(dots_run(epochs=2, diagnostics=()), store, verbose=0)


def test_batch_larger_than_the_data_writes_nothing(tmp_path):
    with pytest.raises(DataError):
        train.run(dots_run(batch_size=5000), Store(tmp_path, "s"), verbose=0)
    assert list(tmp_path.iterdir()) == []


def test_divergence_is_recorded_and_the_sweep_goes_on(tmp_path):
    # A rate this large sends the loss to infinity within a few steps at the larger batch (lr scales with it).
    run = dots_run(epochs=2, diagnostics=(), optim=OptimConfig(learning_rate=1e4, momentum=0.9))
    results = sweep(SweepConfig(run=run, batch_sizes=(32, 64)), Store(tmp_path, "s"), verbose=0)
    assert [r.status for r in results] == ["diverged", "diverged"]
    summary = json.loads((results[0].path / "summary.json").read_text())
    assert summary["diverged_at_step"] >= 1 and "NaN" in summary["error"]
    assert not (results[0].path / "model.keras").exists()


def test_out_of_memory_and_other_errors_are_recorded(tmp_path, monkeypatch):
    def oom(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(keras.Model, "fit", oom)
    result = train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path, "oom"), verbose=0)
    assert result.status == "oom" and "OOM" in result.summary["error"]

    def broken(*args, **kwargs):
        raise ValueError("something inside training broke")

    monkeypatch.setattr(keras.Model, "fit", broken)
    result = train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path, "err"), verbose=0)
    assert result.status == "error" and "something inside training broke" in result.summary["error"]
    assert "Traceback" in result.summary["traceback"]


def test_mixed_float16_trains_records_the_policy_and_reloads(tmp_path):
    result = train.run(dots_run(epochs=1, precision="mixed_float16", diagnostics=("loss_scale",)),
                       Store(tmp_path, "f16"), verbose=0)
    assert result.ok and result.summary["precision"] == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == "float32"  # borrowed, then given back
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Skipping variable loading for optimizer": its state would be lost
        reloaded = keras.saving.load_model(result.path / "model.keras")
    assert reloaded.layers[1].compute_dtype == "float16" and reloaded.output.dtype == "float32"
    assert pd.read_csv(result.path / "history.csv")["loss_scale"].iloc[-1] > 1
    # Under a float32 policy the loss-scale optimizer comes back with its scale and the inner one's steps.
    assert isinstance(reloaded.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(reloaded.optimizer.iterations.numpy()) == result.summary["steps"] > 0
    assert float(reloaded.optimizer.dynamic_scale.numpy()) == pd.read_csv(result.path / "history.csv")["loss_scale"].iloc[-1]


def test_sweep_runs_share_every_setting_but_the_batch_size(digits_sweep):
    store, results = digits_sweep
    configs = [store.read_config(r.run_id) for r in results]
    assert [c.pop("batch_size") for c in configs] == [32, 256]
    assert configs[0] == configs[1]
    assert [r.run_id for r in results] == ["bs32", "bs256"]


def test_stop_at_target_ends_the_run_at_the_first_epoch_that_reaches_it(tmp_path):
    result = train.run(dots_run(epochs=8, target=0.6, stop_at_target=True, diagnostics=()), Store(tmp_path, "t"),
                       verbose=0)
    history = pd.read_csv(result.path / "history.csv")
    assert result.summary["epochs_to_target"] == len(history) < 8
    assert history["val_accuracy"].iloc[-1] >= 0.6
    assert (history["val_accuracy"].iloc[:-1] < 0.6).all()


def test_runs_in_one_process_leave_no_models_or_keras_state_behind(tmp_path):
    import gc

    def live_models():
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, keras.Model)}

    before = live_models()  # other tests' fixtures may hold models of their own
    results = sweep(SweepConfig(run=dots_run(epochs=1, diagnostics=("gns", "weight_distance")),
                                batch_sizes=(16, 32, 64)), Store(tmp_path, "m"), verbose=0)
    assert all(r.ok and r.model is None for r in results)
    assert live_models() - before == set()
    assert keras.layers.Dense(1).name == "dense"  # Keras's session (and its name counters) was cleared


def test_a_run_gives_back_the_callers_policy_seed_and_op_determinism(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    tf.random.set_seed(123)
    expected = tf.random.uniform([4]).numpy()  # the caller's first draw after seeding
    tf.random.set_seed(123)
    assert not global_state.op_determinism()
    try:
        train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path, "p"), verbose=0)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        np.testing.assert_array_equal(tf.random.uniform([4]).numpy(), expected)
        assert not global_state.op_determinism()  # on inside the run only
    finally:
        keras.mixed_precision.set_global_policy("float32")
        tf.random.set_seed(None)


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


def test_step_evaluation_comes_after_the_step_timing_and_before_the_target():
    config = RunConfig(**DIGITS_512, target=0.5, eval_every_steps=4)
    names = list(train.build_callbacks(config, train.data.load(config.data), None))
    order = [names.index(name) for name in ("throughput", "divergence", "evaluation", "target")]
    assert order == sorted(order)
