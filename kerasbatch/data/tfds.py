"""TensorFlow Datasets image classification sets (``tfds:NAME``), loaded into numpy arrays.

Nothing is downloaded unless the user asks (``--download``): offline, a set that is not prepared in the
data directory is a one-line error that names the folder to fill.
"""

from __future__ import annotations

import numpy as np

from kerasbatch.errors import DataError, first_line

DEFAULT_SPLITS = ("train", "test")  # what to assume when the builder cannot say (not yet prepared)


def load_tfds(name: str, data_dir: str | None, download: bool):
    """(train, val or None, test or None, num_classes) for the TFDS set ``name``."""
    import tensorflow_datasets as tfds

    builder = _builder(tfds, name, data_dir)
    label = builder.info.features["label"] if "label" in builder.info.features else None
    if builder.info.supervised_keys != ("image", "label") or not hasattr(label, "num_classes"):
        raise DataError(f"tfds:{name} is not an image classification set (need 'image' and 'label' features)")
    if download:
        try:
            builder.download_and_prepare()
        except Exception as exc:  # network and disk failures come in many types
            raise DataError(f"cannot download tfds:{name} into {str(builder.data_dir_root)!r}: {first_line(exc)}") from None
    splits = set(builder.info.splits.keys()) or set(DEFAULT_SPLITS)
    if "train" not in splits:
        raise DataError(f"tfds:{name} has no 'train' split (it has {', '.join(sorted(splits))})")
    arrays = {s: _as_numpy(tfds, name, s, data_dir, builder) for s in ("train", "validation", "test") if s in splits}
    return arrays["train"], arrays.get("validation"), arrays.get("test"), int(label.num_classes)


def _builder(tfds, name: str, data_dir: str | None):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"unknown TensorFlow Datasets set {name!r} (see tfds.list_builders())") from None


def _as_numpy(tfds, name: str, split: str, data_dir: str | None, builder):
    try:
        ds = tfds.load(name, split=split, as_supervised=True, data_dir=data_dir, download=False)
    except AssertionError:
        raise DataError(
            f"tfds:{name} is not prepared in {str(builder.data_dir_root)!r}; fill that data dir "
            "(tfds build, or copy prepared data there) or pass --download"
        ) from None
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.batch(4096)):
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys).astype("int64")
