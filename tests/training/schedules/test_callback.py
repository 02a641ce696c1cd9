"""BatchSizeSchedule and its two kinds in a plain Keras fit: the batch, the rate and the step count."""

import keras
import numpy as np
import pytest

from kerasbatch.data.resizable import ResizableBatches, quiet_epoch_ends
from kerasbatch.training.schedules.callback import BatchSizeSchedule, IncreaseBatchSize
from kerasbatch.training.schedules.plan import Decision, FixedPlan

X = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
Y = (X[:, 0] > 0).astype("int64")


def model(learning_rate=0.1):
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    net.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy")
    return net


class Doubling(FixedPlan):
    """Doubles the batch every 2 steps up to 64, the rate factor × 1.5 each time."""

    every_steps = 2

    def decide(self, epoch, batch_size, factor):
        self.evaluations += 1
        return (Decision(2 * batch_size, 2.0, "double"), 1.5 * factor) if batch_size < 64 else None


class Counter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def set_batch_size(self, batch_size):
        self.sizes.append(batch_size)


def test_a_switch_sets_the_next_batch_scales_a_constant_rate_and_tells_the_other_callbacks():
    net, batches, counter = model(0.1), ResizableBatches(X, Y, 16), Counter()
    schedule = BatchSizeSchedule(batches, Doubling(), notify=[counter])
    with quiet_epoch_ends():
        net.fit(batches.dataset(), epochs=2, callbacks=[schedule], verbose=0)
    assert [(e["step"], e["batch_size"]) for e in schedule.schedule] == [(0, 16), (2, 32), (4, 64)]
    assert [round(e["learning_rate"], 6) for e in schedule.schedule] == [0.1, 0.15, 0.225]
    assert counter.sizes == [32, 64] and batches.batch_size == 64
    # 2 × 16 + 2 × 32 = 96 examples, then (256 − 96) // 64 = 2 steps; epoch 2 at 64: 4 steps.
    assert int(net.optimizer.iterations.numpy()) == 4 + 2 + 4
    assert float(net.optimizer.learning_rate.numpy()) == pytest.approx(0.225)
    assert len(schedule.switch_seconds) == 2


def test_a_rate_schedule_it_cannot_follow_is_refused_before_a_step():
    net, batches = model(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)), ResizableBatches(X, Y, 16)
    with pytest.raises(ValueError, match="BatchScaledSchedule"), quiet_epoch_ends():
        net.fit(batches.dataset(), epochs=1, callbacks=[BatchSizeSchedule(batches, Doubling())], verbose=0)
    assert int(net.optimizer.iterations.numpy()) == 0


def test_increase_multiplies_the_batch_at_the_boundaries_and_gives_the_rest_to_the_rate():
    net, batches = model(0.1), ResizableBatches(X, Y, 8)
    grow = IncreaseBatchSize(batches, epochs=4, max_batch=64)
    with quiet_epoch_ends():
        net.fit(batches.dataset(), epochs=4, callbacks=[grow], verbose=0)
    # Boundaries at epochs 2 and 3 of 4: × 8 (capped at 64, the rest × 10/8 of the rate drop), then × 1.
    assert [(e["epoch"], e["batch_size"]) for e in grow.schedule] == [(0, 8), (2, 64), (3, 64)]
    assert [round(e["learning_rate"], 6) for e in grow.schedule] == [0.1, 0.08, 0.008]
