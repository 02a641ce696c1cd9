"""Training batches whose size can change while one ``model.fit`` runs.

Keras's ``fit`` takes one dataset, and a ``tf.data`` pipeline fixes its batch size when it is built. Here
the batch size is a variable that the pipeline reads each time it forms a batch: assign
:attr:`ResizableBatches.batch_size` in a callback and the next step trains on the new size. Every batch
dimension is unknown to the graph, so one trace of the train step serves every size.

Each pass over the dataset is one epoch (a fresh seeded shuffle, the last partial batch dropped), so an
epoch keeps its meaning (every example once) whatever the sizes. Batches are formed on demand, without
read-ahead: a prefetched batch would still have the old size after a switch. Keras learns the number of
batches of a dataset of unknown length from its first epoch and stops later epochs there, which would cut
an epoch whose batches got smaller; the dataset therefore reports one batch per example as its length (an
upper bound, never reached) and each epoch ends when its examples run out. (The call that finds an epoch's
data exhausted still counts an optimizer step; :class:`~kerasbatch.training.schedules.callback.BatchSizeSchedule`
puts the count right.)

Example:
    >>> batches = ResizableBatches(x_train, y_train, batch_size=32)     # doctest: +SKIP
    >>> model.fit(batches.dataset(), epochs=5, callbacks=[...])        # doctest: +SKIP
    >>> batches.batch_size = 64      # from a callback: the next step has 64 examples
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np

from kerasbatch.data.arrays import as_arrays
from kerasbatch.errors import DataError

OUT_OF_DATA = "Your input ran out of data"  # Keras's warning at each epoch end of such a dataset


class ResizableBatches:
    """Shuffled training batches of ``(x, y)`` whose size is read from a variable at every step.

    Args:
        x, y: the training examples and integer labels (numpy arrays, or a finite ``tf.data.Dataset`` of
            ``(x, y)`` pairs, batched or not, through :meth:`from_dataset`).
        batch_size: the starting batch size.
        seed: the shuffle seed; each epoch is reshuffled from it.
        augment: pad-4 random crops and horizontal flips of images (``x`` of rank 4).
    """

    def __init__(self, x, y, batch_size: int, *, seed: int = 0, augment: bool = False):
        import tensorflow as tf

        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y) or len(x) == 0:
            raise DataError(f"x and y must be non-empty and of one length, got {len(x)} and {len(y)}")
        self.n, self.seed, self.augment = len(x), seed, augment and x.ndim == 4
        self._x, self._y = x, y
        self._size = tf.Variable(int(batch_size), dtype=tf.int64, trainable=False, name="batch_size")
        self.batch_size = batch_size

    @classmethod
    def from_dataset(cls, dataset, batch_size: int, **kwargs) -> ResizableBatches:
        """From a finite ``tf.data.Dataset`` of ``(x, y)`` pairs (batched or not), read once into memory."""
        return cls(*as_arrays(dataset), batch_size, **kwargs)

    @property
    def batch_size(self) -> int:
        return int(self._size.numpy())

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        value = int(value)
        if not 1 <= value <= self.n:
            raise ValueError(f"batch_size must be 1 to {self.n} (the training set), got {value}")
        self._size.assign(value)

    def examples(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``count`` training examples and labels, as given."""
        return self._x[:count], self._y[:count]

    def steps_per_epoch(self, batch_size: int | None = None) -> int:
        """Full batches in one epoch at ``batch_size`` (by default the current one)."""
        return self.n // (batch_size or self.batch_size)

    def dataset(self):
        """A ``tf.data.Dataset`` of one epoch of batches at whatever size :attr:`batch_size` holds."""
        import tensorflow as tf

        x, y, n, size = tf.constant(self._x), tf.constant(self._y), self.n, self._size
        scale = self._x.dtype == np.uint8
        augment = _augment_batch(self._x.shape[1:], self.seed) if self.augment else None

        def epoch(seed):
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)

            def step(start, _):
                stop = start + size.read_value()  # read as this batch is formed: a switch counts from here
                return stop, (stop <= n, order[start:stop])

            def batch(_, indices):
                xb, yb = tf.gather(x, indices), tf.gather(y, indices)
                xb = tf.cast(xb, tf.float32) / 255.0 if scale else xb
                return (augment(xb) if augment else xb), yb

            return (tf.data.Dataset.range(n).scan(tf.constant(0, tf.int64), step)
                    .take_while(lambda full, _: full).map(batch))

        # A new seed each epoch, from the run's seed: repeatable, and each epoch shuffled anew.
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(2).batch(2)
        options = tf.data.Options()
        options.experimental_optimization.inject_prefetch = False  # no batch formed ahead of a switch
        batches = seeds.flat_map(epoch).with_options(options)
        batches.cardinality = lambda: tf.constant(n, dtype=tf.int64)  # an upper bound: see the module
        return batches

    def probes(self, batch_size: int, seed: int):
        """Endless shuffled batches of ``batch_size`` from the same examples, apart from the training stream
        (a noise-scale probe must not consume it, or training would differ with the probe on and off)."""
        from kerasbatch.data.datasets import pipeline

        return iter(pipeline(self._x, self._y, batch_size, training=True, seed=seed, augment=self.augment).repeat())


@contextlib.contextmanager
def quiet_epoch_ends() -> Iterator[None]:
    """Silence Keras's "ran out of data" warning, which it gives at every epoch end of
    :meth:`ResizableBatches.dataset` (an epoch whose length it cannot know ends there, as it should)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=OUT_OF_DATA)
        yield


def _augment_batch(shape, seed: int):
    """Pad 4 pixels, crop back at a random place and flip half the images, each image on its own."""
    import tensorflow as tf

    height, width, _ = shape

    def one(image):
        padded = tf.image.resize_with_crop_or_pad(image, height + 8, width + 8)
        return tf.image.random_flip_left_right(tf.image.random_crop(padded, shape, seed=seed), seed=seed + 1)

    return lambda images: tf.map_fn(one, images)
