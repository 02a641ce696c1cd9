"""The preconditioned probe: the gradients Adam steps along, each divided by its second moment."""

import numpy as np
import pytest

from kerasbatch.noise import probe as noise_probe

N_FEATURES, N_CLASSES = 8, 3


def test_the_preconditioned_probe_measures_the_gradients_adam_steps_along():
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, size=256)
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(N_CLASSES, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    # No second moment before the first step: nothing to divide by.
    assert noise_probe.micro_batch_sq_norms(model, x[:64], y[:64], 2, preconditioned=True) is None
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    small, big, finite = noise_probe.micro_batch_sq_norms(model, x[:64], y[:64], 2, preconditioned=True)

    # By hand: each micro-batch's gradient divided by sqrt(v̂) + epsilon, v̂ Adam's second moment after
    # one more step on the mean of the two: (0.999 v + 0.001 ḡ²) / (1 - 0.999^(t+1)).
    optimizer, loss = model.optimizer, keras.losses.SparseCategoricalCrossentropy()
    steps = int(optimizer.iterations.numpy())
    raw = []
    for part in (slice(0, 32), slice(32, 64)):
        with tf.GradientTape() as tape:
            value = loss(y[part], model(x[part], training=True))
        raw.append([g.numpy() for g in tape.gradient(value, model.trainable_variables)])
    divisors = []
    for variable, a, b in zip(model.trainable_variables, *raw):
        v = optimizer._velocities[optimizer._get_variable_index(variable)].numpy()
        divisors.append(np.sqrt((0.999 * v + 0.001 * ((a + b) / 2) ** 2) / (1 - 0.999 ** (steps + 1))) + 1e-7)
    grads = [[g / d for g, d in zip(chain, divisors)] for chain in raw]
    expected_small = np.mean([sum(np.sum(g**2) for g in chain) for chain in grads])
    expected_big = sum(np.sum(((a + b) / 2) ** 2) for a, b in zip(*grads))
    assert finite and small == pytest.approx(expected_small, rel=1e-4) and big == pytest.approx(expected_big, rel=1e-4)
    # Adam's divisors are far from 1 here: the preconditioned norms are not the raw ones.
    raw_small = noise_probe.micro_batch_sq_norms(model, x[:64], y[:64], 2)[0]
    assert small > 10 * raw_small


def test_an_sgd_model_has_no_second_moment_to_precondition_by():
    import keras

    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(N_CLASSES, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.zeros((64, N_FEATURES), "float32")
    model.fit(x, np.zeros(64, "int64"), batch_size=32, epochs=1, verbose=0)
    assert noise_probe.micro_batch_sq_norms(model, x, np.zeros(64, "int64"), 2, preconditioned=True) is None
    assert isinstance(model.optimizer, keras.optimizers.SGD)


def test_a_coordinate_adam_has_never_moved_does_not_swamp_the_estimate():
    import keras

    # The second input is zero for the one step Adam takes, so its weights have v = 0; the probe's
    # batch has it on. Divided by epsilon alone its gradients would be ~1e7 times the others.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x[:32] * np.array([1.0, 0.0], "float32"), y[:32], batch_size=32, epochs=1, verbose=0)
    small, big, finite = noise_probe.micro_batch_sq_norms(model, x, y, 2, preconditioned=True)
    # Where v = 0 the divisor is |ḡ| sqrt(0.001 / (1 - 0.999²)) ≈ 0.71 |ḡ|: preconditioned gradients of
    # order 1 per parameter (six of them), where dividing by epsilon alone gives some 1e14.
    assert finite and 0 < big <= small < 6 * 10
