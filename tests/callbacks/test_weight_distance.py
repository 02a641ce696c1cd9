"""The distance the weights travelled from where training started."""

import math

import numpy as np
import pytest

from kerasbatch.callbacks import WeightDistance
from kerasbatch.config.run import ModelConfig, OptimConfig

from tests.conftest import dots_run
from tests.callbacks.test_gradient_noise import _fitted, _probe_data


def test_weight_distance_starts_at_zero_and_grows_under_plain_sgd():
    tracker = WeightDistance(every=1)
    config = dots_run(optim=OptimConfig(learning_rate=0.01, momentum=0.0), model=ModelConfig(name="logreg"))
    _fitted(config, lambda c, d: [tracker])
    steps, distances = zip(*tracker.trace[:10])
    assert steps == tuple(range(10)) and distances[0] == 0.0
    assert all(b >= a for a, b in zip(distances, distances[1:])) and distances[-1] > 0


def test_a_second_fit_measures_the_distance_from_where_it_started():
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x, y = _probe_data(64)
    tracker = WeightDistance()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[tracker])
    start = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[tracker])
    moved = math.sqrt(sum(float(np.sum((w.numpy() - s) ** 2)) for w, s in zip(model.trainable_weights, start)))
    assert tracker.distance() == pytest.approx(moved, rel=1e-5) and moved > 0
