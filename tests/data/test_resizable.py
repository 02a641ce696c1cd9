"""ResizableBatches: a batch size read at every step, epochs that stay one pass over the data."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbatch.data.resizable import ResizableBatches, quiet_epoch_ends
from kerasbatch.errors import DataError
from kerasbatch.training.schedules.callback import BatchSizeSchedule
from kerasbatch.training.schedules.plan import FixedPlan

X = np.arange(200 * 3, dtype="float32").reshape(200, 3)
Y = np.arange(200) % 10


def sizes_and_labels(dataset):
    batches = [(int(x.shape[0]), y.numpy()) for x, y in dataset]
    return [b for b, _ in batches], np.concatenate([y for _, y in batches])


def test_an_epoch_is_one_pass_in_full_batches_reshuffled_each_time_and_repeatable_by_seed():
    batches = ResizableBatches(X, Y, batch_size=32, seed=3)
    dataset = batches.dataset()
    sizes, first = sizes_and_labels(dataset)
    _, second = sizes_and_labels(dataset)
    assert sizes == [32] * 6  # 200 // 32 full batches, the last 8 examples dropped
    assert len(set(first)) == 10 and len(first) == 192 and not np.array_equal(first, second)
    _, again = sizes_and_labels(ResizableBatches(X, Y, batch_size=32, seed=3).dataset())
    assert np.array_equal(first, again)


def test_a_size_set_between_batches_holds_from_the_next_batch_and_no_example_repeats():
    batches = ResizableBatches(X, Y, batch_size=16)
    sizes, indices = [], []
    for x, _ in batches.dataset():
        sizes.append(int(x.shape[0]))
        indices += list(x.numpy()[:, 0] // 3)
        if len(sizes) == 2:
            batches.batch_size = 40
    assert sizes == [16, 16, 40, 40, 40, 40]  # 32 + 4 × 40 = 192 of 200; 8 left, fewer than 40
    assert len(indices) == len(set(indices)) == 192


def test_in_fit_the_epochs_follow_the_size_and_one_trace_serves_every_size():
    batches = ResizableBatches(X, Y, batch_size=50)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    steps = []

    class Sizes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            batches.batch_size, self.steps = (50, 20, 100)[epoch], 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_epoch_end(self, epoch, logs=None):
            steps.append(self.steps)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_epoch_ends():
            model.fit(batches.dataset(), validation_data=(X, Y), epochs=3, verbose=0,
                      callbacks=[BatchSizeSchedule(batches, FixedPlan()), Sizes()])
    # A smaller batch after a larger one gets its longer epoch: Keras is not left to cut it; and the
    # optimizer counts the steps taken, not the calls that found an epoch's end.
    assert steps == [4, 10, 2]
    assert int(model.optimizer.iterations.numpy()) == 16
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    from kerasbatch.training.traces import train_traces

    assert train_traces(model) == 1


def test_from_a_tf_data_dataset_batched_or_not_and_uint8_images_scaled():
    unbatched = tf.data.Dataset.from_tensor_slices((X, Y))
    for dataset in (unbatched, unbatched.batch(7)):
        batches = ResizableBatches.from_dataset(dataset, batch_size=32)
        assert batches.n == 200 and np.array_equal(batches.examples(5)[1], Y[:5])
    images = np.full((40, 4, 4, 1), 255, dtype=np.uint8)
    x, _ = next(iter(ResizableBatches(images, np.zeros(40, "int64"), 8).dataset()))
    assert x.dtype == tf.float32 and float(tf.reduce_max(x)) == 1.0


def test_bad_input_is_refused():
    with pytest.raises(DataError, match="one length"):
        ResizableBatches(X, Y[:5], 8)
    with pytest.raises(DataError, match="infinite"):
        ResizableBatches.from_dataset(tf.data.Dataset.from_tensor_slices((X, Y)).repeat(), 8)
    batches = ResizableBatches(X, Y, 8)
    with pytest.raises(ValueError, match="1 to 200"):
        batches.batch_size = 0
