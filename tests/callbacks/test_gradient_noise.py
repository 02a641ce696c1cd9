"""The gradient noise callback on real training: what it measures, when, on which micro-batches, and that
measuring changes nothing."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from kerasbatch.data import datasets as data
from kerasbatch.noise import probe as noise_probe
from kerasbatch.training import train
from kerasbatch.callbacks import GradientNoise, WeightDistance, micro_batch_plan
from kerasbatch.callbacks.gradient_noise import probe_batches
from kerasbatch.config.run import ModelConfig
from kerasbatch.store import Store

from tests.conftest import dots_run


@pytest.mark.parametrize("batch, k, expected", [(32, 4, (4, 32)), (30, 4, (3, 30)), (31, 4, (4, 28)),
                                                (2, 4, (2, 2)), (7, 4, (0, 0)), (1, 4, (0, 0))])
def test_micro_batch_plan(batch, k, expected):
    assert micro_batch_plan(batch, k) == expected


def _fitted(config, callbacks):
    """A model trained one epoch from the config's seed, with extra callbacks."""
    dataset = data.load(config.data)
    with train.run_scope("float32", config.seed):
        model = train.compile_model(config, dataset)
        stream = data.pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True, seed=config.seed)
        model.fit(stream, epochs=1, verbose=0, shuffle=False, callbacks=callbacks(config, dataset))
        return [v.numpy() for v in model.weights]


def test_measuring_does_not_change_the_training_trajectory():
    config = dots_run(model=ModelConfig(name="mlp", widths=(16,), dropout=0.3), diagnostics_every=1)
    plain = _fitted(config, lambda c, d: [])
    measured = _fitted(config, lambda c, d: [GradientNoise(probe_batches(c, d), every=1), WeightDistance(1)])
    assert len(plain) == len(measured)
    for a, b in zip(plain, measured):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


class RecordingNoise(GradientNoise):
    """Remembers the optimizer's step count at every measurement."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.measured_after: list[int] = []

    def measure(self):
        self.measured_after.append(int(self.model.optimizer.iterations.numpy()))
        super().measure()


def test_measures_every_n_steps_across_epochs_and_fits_and_short_epochs_log_the_latest():
    config = dots_run(epochs=3)
    dataset = data.load(config.data)
    assert dataset.n_train // config.batch_size == 13  # epochs of steps 0-12, 13-25, 26-38
    with train.run_scope("float32", config.seed):
        model = train.compile_model(config, dataset)
        stream = data.pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True, seed=0)
        meter = RecordingNoise(iter(stream.repeat()), every=20)
        logs = model.fit(stream, epochs=3, verbose=0, shuffle=False, callbacks=[meter]).history
        assert meter.measured_after == [1, 21] and len(meter.estimates) == 2
        # A second fit continues the optimizer's count, so the rhythm: no extra measurement at its start.
        model.fit(stream, epochs=2, verbose=0, shuffle=False, callbacks=[meter])
        assert meter.measured_after == [41, 61]
    assert np.isfinite(logs["grad_norm"]).all() and np.isfinite(logs["gns"]).all()
    assert logs["grad_norm"][1] != logs["grad_norm"][0]
    # The third epoch held no measurement: it logs the latest values rather than pay for a new one.
    assert logs["grad_norm"][2] == logs["grad_norm"][1] and logs["gns"][2] == logs["gns"][1]


def test_mixed_float16_noise_scale_matches_float32(tmp_path):
    # Same seed, same data, same probe batches: only the arithmetic differs.
    common = dict(epochs=1, batch_size=64, micro_batches=8, diagnostics=("gns",), diagnostics_every=1,
                  model=ModelConfig(name="mlp", widths=(32,)))
    f32 = train.run(dots_run(precision="float32", **common), Store(tmp_path, "f32"), verbose=0)
    f16 = train.run(dots_run(precision="mixed_float16", **common), Store(tmp_path, "f16"), verbose=0)
    assert math.isfinite(f16.summary["gns"]) and f16.summary["gns"] > 0
    assert f16.summary["gns"] == pytest.approx(f32.summary["gns"], rel=0.2)
    assert f16.summary["grad_norm"] == pytest.approx(f32.summary["grad_norm"], rel=0.2)


@pytest.mark.parametrize("model, micro_batch", [("tests.user_models:with_batch_norm", 32), ("mlp", 16)])
def test_batch_norm_models_measure_on_micro_batches_of_at_least_32_and_the_size_is_logged(tmp_path, model,
                                                                                         micro_batch):
    from kerasbatch.config.run import ModelConfig

    # A probe of two batches of 64 in 8 micro-batches is 16 examples each; batch normalization gets 4 of 32.
    config = dots_run(epochs=1, batch_size=64, micro_batches=8, diagnostics=("gns",), diagnostics_every=2,
                      model=ModelConfig(name=model, widths=(16,)))
    result = train.run(config, Store(tmp_path, "bn"), verbose=0)
    history = pd.read_csv(result.path / "history.csv")
    assert list(history["gns_micro_batch"]) == [micro_batch]
    assert result.summary["gns_micro_batch"] == micro_batch


def _probe_model(layer):
    import keras

    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), layer,
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def _probe_data(n=256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype("int32")


def _callback(model, batches, **options):
    meter = GradientNoise(batches, **options)
    meter.set_model(model)
    meter.on_train_begin()
    return meter


def test_measurements_at_the_same_weights_draw_new_dropout_masks():
    import keras

    model = _probe_model(keras.layers.Dropout(0.5))
    x, y = _probe_data()
    before = [v.numpy().copy() for v in model.variables]
    meter = _callback(model, itertools.repeat((x[:64], y[:64])))
    meter.measure()
    meter.measure()  # no training step between: only the carried seed state can change the masks
    (first, second) = meter.estimates
    assert first[1] != pytest.approx(second[1], rel=1e-3) and first[0] != pytest.approx(second[0], rel=1e-3)
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, model.variables))


@pytest.mark.parametrize("batch, micro_batches, micro_batch", [(16, 4, 32), (32, 4, 32), (48, 8, 32), (64, 8, 32),
                                                               (256, 4, 64)])
def test_batch_norm_never_measures_on_micro_batches_below_32(batch, micro_batches, micro_batch):
    import keras

    model = _probe_model(keras.layers.BatchNormalization())
    x, y = _probe_data()
    # A shuffled epoch's consecutive batches, as the probe pipeline serves them.
    stream = itertools.cycle([(x[i:i + batch], y[i:i + batch]) for i in range(0, 256 - batch + 1, batch)])
    meter = _callback(model, stream, micro_batches=micro_batches, population=256)
    meter.measure()
    assert meter.micro_batch == micro_batch and len(meter.estimates) == 1
    logs = {}
    meter.on_epoch_end(0, logs)
    assert logs["gns_micro_batch"] == micro_batch
    if batch < 64:  # probes joined: grad_norm is still a training-size batch's, sqrt(|G|² + c(B) tr(Σ))
        grad_sq, trace_sigma = meter.estimates[0]
        assert logs["grad_norm"] == pytest.approx(math.sqrt(grad_sq + trace_sigma * (1 / batch - 1 / 256) * 256 / 255))


@pytest.mark.parametrize("batch, drawn, micro_batch", [(32, 2, 32), (128, 2, 128), (200, 1, 100)])
def test_a_default_probe_joins_two_training_batches_that_fit_in_the_training_set(batch, drawn, micro_batch):
    import keras

    model = _probe_model(keras.layers.Identity())
    x, y = _probe_data()
    served = []

    def stream():
        while True:
            served.append(batch)
            yield x[:batch], y[:batch]

    meter = _callback(model, stream(), population=256)
    meter.measure()
    # Two batches of the training size, one micro-batch each; a second batch of 200 does not fit in 256.
    assert (len(served), meter.micro_batch) == (drawn, micro_batch)
    if micro_batch == batch:  # grad_norm: the measured training-size gradients' root mean square norm
        probe = np.concatenate([x[:batch]] * 2), np.concatenate([y[:batch]] * 2)
        small = noise_probe.micro_batch_sq_norms(model, *probe, 2)[0]
        logs = {}
        meter.on_epoch_end(0, logs)
        assert logs["grad_norm"] == pytest.approx(math.sqrt(small), rel=1e-5)


def test_after_the_batch_changes_grad_norm_is_the_new_batchs_from_the_same_probe():
    import keras

    model = _probe_model(keras.layers.Identity())
    x, y = _probe_data()
    meter = _callback(model, itertools.cycle([(x[:32], y[:32]), (x[32:64], y[32:64])]), population=256)
    meter.measure()
    meter.set_batch_size(128)  # an adaptive run switched from 32 to 128; the probe stays at 32
    meter.measure()
    first, second = meter._norms
    grad_sq, trace_sigma = meter.estimates[1]
    assert meter.micro_batch == 32
    small = noise_probe.micro_batch_sq_norms(model, x[:64], y[:64], 2)[0]
    assert first == pytest.approx(math.sqrt(small), rel=1e-5)
    # E|g_128|² = |G|² + tr(Σ)(1/128 − 1/256)·256/255: smaller than the batch of 32's.
    assert second == pytest.approx(math.sqrt(grad_sq + trace_sigma * (1 / 128 - 1 / 256) * 256 / 255))
    assert second < 0.9 * first
