"""One run: the files it writes, reruns, failures recorded, precision, stopping at the target."""

import json
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kerasbatch.training import train
from kerasbatch.config.run import ModelConfig, OptimConfig, RunConfig
from kerasbatch.errors import DataError, StoreError
from kerasbatch.store import Store

from tests.conftest import dots_run
from tests.callbacks.test_step_evaluation import DIGITS_512


HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds",
                   "samples_per_second", "steps", "examples"]


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


def test_stop_at_target_ends_the_run_at_the_first_epoch_that_reaches_it(tmp_path):
    result = train.run(dots_run(epochs=8, target=0.6, stop_at_target=True, diagnostics=()), Store(tmp_path, "t"),
                       verbose=0)
    history = pd.read_csv(result.path / "history.csv")
    assert result.summary["epochs_to_target"] == len(history) < 8
    assert history["val_accuracy"].iloc[-1] >= 0.6
    assert (history["val_accuracy"].iloc[:-1] < 0.6).all()


def test_grad_norm_only_skips_the_noise_columns(tmp_path):
    result = train.run(dots_run(epochs=1, diagnostics=("grad_norm",)), Store(tmp_path, "g"), verbose=0)
    history = pd.read_csv(result.path / "history.csv")
    assert "grad_norm" in history and "gns" not in history and "weight_distance" not in history


def test_step_evaluation_comes_after_the_step_timing_and_before_the_target():
    config = RunConfig(**DIGITS_512, target=0.5, eval_every_steps=4)
    names = list(train.build_callbacks(config, train.data.load(config.data), None))
    order = [names.index(name) for name in ("throughput", "divergence", "evaluation", "target")]
    assert order == sorted(order)
