"""Datasets by name, and the ``tf.data`` pipelines that feed them.

Names: ``dots`` (generated red/blue points), ``digits`` (scikit-learn's bundled 8×8 digits),
``mnist1d`` (generated 1-D signals of ten digit shapes),
``tfds:NAME`` (a TensorFlow Datasets image classification set) and ``npz:PATH`` (your own arrays).
Every set is loaded once into numpy arrays split into train/validation/test; the splits made here are
seeded with ``DataConfig.data_seed``, so every run of a study sees the same examples and ``--seed``
changes only the training randomness.

Importing this module is cheap: TensorFlow and TFDS are imported where they are needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kerasbatch.config.run import DataConfig
from kerasbatch.errors import DataError
from kerasbatch.store import cache_dir

TEST_FRACTION = 0.2  # held out as the test split by sets that do not ship one
EVAL_BATCH = 512  # evaluation batch size: it does not change the result, only the speed
CACHE_LIMIT_BYTES = 1 << 30  # evaluation pipelines keep their scaled batches in memory below this size


@dataclass(frozen=True)
class Dataset:
    """A dataset in memory: three splits of (x, y), with integer labels ``0 … num_classes-1``.

    Image sets stored as ``uint8`` are scaled to ``[0, 1]`` in the pipeline, batch by batch, not here,
    to keep the arrays four times smaller. The arrays themselves are the cache of the raw examples.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return len(self.x_train)


@functools.lru_cache(maxsize=4)
def load(config: DataConfig) -> Dataset:
    """Load the dataset named in ``config``, split into train, validation and test.

    Cached per process (the config is frozen): every run of a sweep or search shares one copy.
    """
    kind, _, argument = config.dataset.partition(":")
    entry = DATASETS.get(kind)
    if entry is None or bool(argument) != entry.takes_argument:
        raise DataError(f"unknown dataset {config.dataset!r}; choose one of {', '.join(DATASET_NAMES)}")
    train, val, test, num_classes = entry.load(argument, config)
    rng = np.random.default_rng(config.data_seed)
    if test is None:
        train, test = _split(train, TEST_FRACTION, rng)
    if val is None:
        train, val = _split(train, config.val_fraction, rng)
    if len(train[0]) < 2 or len(val[0]) < 1:
        raise DataError(f"dataset {config.dataset!r} is too small to split into train and validation")
    return Dataset(config.dataset, *train, *val, *test, num_classes=num_classes)


def describe(dataset: Dataset) -> dict:
    """What a run folder records of its data: the splits' shapes and the number of classes (with the
    dataset's name, which for in-memory arrays is a fingerprint of their content)."""
    splits = {"train": dataset.x_train, "val": dataset.x_val, "test": dataset.x_test}
    return {"name": dataset.name, "num_classes": dataset.num_classes,
            **{f"x_{split}_shape": list(x.shape) for split, x in splits.items()}}


def check_batch_size(dataset: Dataset, batch_size: int) -> None:
    """Every training step must see exactly ``batch_size`` examples, so at least one full batch."""
    if batch_size > dataset.n_train:
        raise DataError(
            f"batch size {batch_size} is larger than the {dataset.n_train} training examples of "
            f"{dataset.name!r}"
        )


# Each loader takes what follows the colon of ``tfds:NAME``/``npz:PATH`` ("" for the others) and the
# config, and returns (train, val or None, test or None, num_classes), each split an (x, y) pair.

def _dots(_: str, config: DataConfig):
    """Red vs blue points on two interleaved half-moons: no straight line separates them."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=config.dots_samples, noise=config.dots_noise, random_state=config.data_seed)
    return (x.astype("float32"), y.astype("int64")), None, None, 2


def _digits(_: str, config: DataConfig):
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype("float32")[..., np.newaxis]
    return (x, bunch.target.astype("int64")), None, None, 10


def _mnist1d(_: str, config: DataConfig):
    """MNIST-1D (Greydanus 2020): 40-sample 1-D signals of 10 digit templates, made by its published
    generator; cached on disk, since making 20000 examples takes seconds."""
    path = cache_dir() / f"mnist1d-{config.mnist1d_samples}-seed{config.data_seed}.npz"
    if not path.is_file():
        from kerasbatch.store import make_dir, write_npz

        made = _generate_mnist1d(config.mnist1d_samples, config.data_seed)
        make_dir(path.parent)
        write_npz(path, **made)
    with np.load(path) as arrays:
        train = (arrays["x_train"], arrays["y_train"])
        test = (arrays["x_test"], arrays["y_test"])
    return train, None, test, 10


def _generate_mnist1d(samples: int, seed: int) -> dict[str, np.ndarray]:
    import random

    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = samples, seed
    # The generator seeds numpy's and Python's global generators: borrow them and give them back.
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        made = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return {"x_train": made["x"].astype("float32"), "y_train": made["y"].astype("int64"),
            "x_test": made["x_test"].astype("float32"), "y_test": made["y_test"].astype("int64")}


def _tfds(name: str, config: DataConfig):
    from kerasbatch.data.tfds import load_tfds

    return load_tfds(name, config.data_dir, config.download)


def _npz(argument: str, config: DataConfig):
    from kerasbatch.data.arrays import load_npz

    return load_npz(Path(argument))


def _arrays(fingerprint: str, config: DataConfig):
    from kerasbatch.data.arrays import load_registered

    return load_registered(fingerprint)


@dataclass(frozen=True)
class DatasetEntry:
    """One kind of dataset: how it is named on the command line and how it is loaded."""

    usage: str
    load: Callable[[str, DataConfig], tuple]

    @property
    def takes_argument(self) -> bool:
        return ":" in self.usage


DATASETS: dict[str, DatasetEntry] = {
    "dots": DatasetEntry("dots", _dots),
    "digits": DatasetEntry("digits", _digits),
    "mnist1d": DatasetEntry("mnist1d", _mnist1d),
    "tfds": DatasetEntry("tfds:NAME", _tfds),
    "npz": DatasetEntry("npz:PATH", _npz),
    "arrays": DatasetEntry("arrays:FINGERPRINT", _arrays),
}
"""Dataset kinds by the name before the colon."""

DATASET_NAMES = tuple(entry.usage for entry in DATASETS.values())


def _split(pair, fraction: float, rng: np.random.Generator):
    x, y = pair
    order = rng.permutation(len(x))
    n_held = max(1, int(round(len(x) * fraction)))
    held, kept = order[:n_held], order[n_held:]
    return (x[kept], y[kept]), (x[held], y[held])


def pipeline(x: np.ndarray, y: np.ndarray, batch_size: int, *, training: bool, seed: int = 0, augment: bool = False):
    """A ``tf.data`` pipeline over (x, y).

    Training pipelines reshuffle every epoch (seeded), optionally augment, and drop the last partial
    batch so that every step has exactly ``batch_size`` examples: the batch size is what is studied.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        if augment and x.ndim == 4:
            ds = ds.map(_augment_fn(x.shape[1:], seed), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    if x.dtype == np.uint8:
        # Scaled a whole batch at a time, after batching: the arrays stay uint8 in memory, 4× smaller
        # than a float32 copy, and the cast is one vectorised op per step.
        ds = ds.map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b), num_parallel_calls=tf.data.AUTOTUNE)
        if not training and x.nbytes * 4 < CACHE_LIMIT_BYTES:
            ds = ds.cache()  # evaluation sees the same batches every epoch: scale them once, where they fit
    return ds.prefetch(tf.data.AUTOTUNE)



def generic_batch(dataset):
    """``dataset`` with its batch dimension unknown to the graph (every batch still holds exactly as many
    examples): one trace of the train step then serves every batch size, with no retracing at a switch."""
    import tensorflow as tf

    def relax(x, y):
        generic = lambda t: tf.raw_ops.PlaceholderWithDefault(input=t, shape=[None, *t.shape[1:]])  # noqa: E731
        return generic(x), generic(y)

    return dataset.map(relax).prefetch(tf.data.AUTOTUNE)

def _augment_fn(shape, seed: int):
    """CIFAR-style augmentation: pad 4 pixels, crop back at a random place, flip half the images."""
    import tensorflow as tf

    height, width, _ = shape

    def augment(image, label):
        padded = tf.image.resize_with_crop_or_pad(image, height + 8, width + 8)
        cropped = tf.image.random_crop(padded, shape, seed=seed)
        return tf.image.random_flip_left_right(cropped, seed=seed + 1), label

    return augment
