"""A user's own arrays as a dataset: ``npz:PATH`` files and in-memory arrays (``arrays:FINGERPRINT``).

Every array is checked before anything trains on it (:func:`check_arrays`). In-memory arrays are
named by a fingerprint of their content (:func:`register_arrays`), so a study that was run on other
data refuses them instead of mixing the two; a copy goes to the user's cache folder, where profiling
processes and later sessions find them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from kerasbatch.errors import DataError
from kerasbatch.store import cache_dir

_REGISTERED: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}


def register_arrays(x, y=None, validation_data=None, test_data=None) -> str:
    """Name in-memory arrays as a dataset, ``arrays:<fingerprint>``, for any config or command.

    Args:
        x, y: training examples and integer labels ``0 … num_classes-1``; or ``x`` a finite
            ``tf.data.Dataset`` of ``(x, y)`` pairs (batched or not) and no ``y``.
        validation_data: ``(x_val, y_val)`` or such a dataset; by default a share of the training
            examples is held out.
        test_data: the same for the test split; by default 20% of the training examples are held out.
    """
    splits = {"train": as_arrays(x if y is None else (x, y), "train")}
    for name, data in (("val", validation_data), ("test", test_data)):
        if data is not None:
            splits[name] = as_arrays(data, name)
    check_arrays(splits)
    fingerprint = _fingerprint(splits)
    _REGISTERED[fingerprint] = splits
    path = _cached(fingerprint)
    if not path.is_file():
        from kerasbatch.store import make_dir, write_npz

        make_dir(path.parent)
        write_npz(path, **{f"{axis}_{n}": a for n, pair in splits.items() for axis, a in zip("xy", pair)})
    return f"arrays:{fingerprint}"


def as_arrays(data, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` numpy arrays from a pair of arrays or from a finite ``tf.data.Dataset`` of ``(x, y)``
    pairs, batched or not (read once into memory)."""
    if hasattr(data, "as_numpy_iterator"):  # a tf.data.Dataset, told apart without importing TensorFlow
        import tensorflow as tf

        if data.cardinality() == tf.data.INFINITE_CARDINALITY:
            raise DataError(f"the {name} dataset is infinite (.repeat()): give one pass over it")
        try:
            pairs = list(data.as_numpy_iterator())
            xs, ys = zip(*pairs) if pairs else ((), ())
        except (TypeError, ValueError):
            raise DataError(f"the {name} dataset must hold (x, y) pairs") from None
        if not pairs:
            raise DataError(f"the {name} dataset is empty")
        join = np.concatenate if np.ndim(ys[0]) == 1 else np.stack  # batches of labels, or one label each
        return join(xs), join(ys)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError(f"{name} data must be a pair (x_{name}, y_{name}) or a tf.data.Dataset of such pairs")
    return np.asarray(data[0]), np.asarray(data[1])


def load_registered(fingerprint: str):
    """The splits of ``arrays:<fingerprint>``: from this process, else from the cache folder."""
    if fingerprint in _REGISTERED:
        return _prepared(_REGISTERED[fingerprint], where=f"arrays:{fingerprint}: ")
    path = _cached(fingerprint)
    if not path.is_file():
        raise DataError(f"no arrays with fingerprint {fingerprint} in this process or in {str(path.parent)!r}; "
                        "pass the arrays again")
    with np.load(path) as arrays:
        splits = {n: (arrays[f"x_{n}"], arrays[f"y_{n}"]) for n in ("train", "val", "test") if f"x_{n}" in arrays}
    return _prepared(splits, where=f"arrays:{fingerprint}: ")


def _fingerprint(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for name, pair in sorted(splits.items()):
        for array in pair:
            digest.update(f"{name}{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def _cached(fingerprint: str) -> Path:
    return cache_dir() / "arrays" / f"{fingerprint}.npz"


def load_npz(path: Path):
    """(train, val or None, test, num_classes) from a ``.npz`` file of ``x_train, y_train, x_test, y_test``
    (and optionally ``x_val, y_val``)."""
    if not path.is_file():
        raise DataError(f"no such file {str(path)!r} for dataset npz:{path}")
    try:
        arrays = np.load(path)
    except Exception as exc:
        raise DataError(f"cannot read {str(path)!r} as a .npz file: {exc}") from None
    required = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in required if k not in arrays.files]
    if missing:
        raise DataError(f"{str(path)!r} lacks the arrays {', '.join(missing)} (need {', '.join(required)})")
    names = [n for n in ("train", "val", "test") if f"x_{n}" in arrays.files and f"y_{n}" in arrays.files]
    try:
        splits = {n: (arrays[f"x_{n}"], arrays[f"y_{n}"]) for n in names}
    except ValueError as exc:  # object arrays: loading them would run pickled code
        raise DataError(f"cannot read {str(path)!r}: {exc}") from None
    return _prepared(splits, where=f"{str(path)!r}: ")


def _prepared(splits: dict[str, tuple[np.ndarray, np.ndarray]], where: str):
    """Checked splits as the loaders return them: float32 inputs (uint8 images kept), int64 labels."""
    num_classes = check_arrays(splits, where=where)
    splits = {n: (x if x.dtype == np.uint8 else x.astype("float32"), y.reshape(-1).astype("int64"))
              for n, (x, y) in splits.items()}
    return splits["train"], splits.get("val"), splits.get("test"), num_classes


def check_arrays(splits: dict[str, tuple[np.ndarray, np.ndarray]], where: str = "") -> int:
    """Check a set's (x, y) splits before anything trains on them; return the number of classes.

    Every split needs as many labels as examples, finite numeric inputs and integer labels
    ``0 … num_classes-1``, with at least two classes among the training labels. A bad array is a
    :class:`DataError` that names it: an all-NaN input would otherwise train to the end and look fine.
    """
    labels = []
    for split, (x, y) in splits.items():
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y) or y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise DataError(f"{where}x_{split} has {len(x)} rows but y_{split} has shape {y.shape}; "
                            "need one integer label per example")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise DataError(f"{where}x_{split} must hold numbers, got dtype {x.dtype}")
        first = next(iter(splits.values()))[0]
        if x.shape[1:] != np.shape(first)[1:]:
            raise DataError(f"{where}x_{split} has examples of shape {x.shape[1:]}, others {np.shape(first)[1:]}")
        if np.issubdtype(x.dtype, np.inexact) and not _all_finite(x):
            raise DataError(f"{where}x_{split} holds NaN or infinite values")
        y = y.reshape(-1)
        integral = np.issubdtype(y.dtype, np.integer) or (
            np.issubdtype(y.dtype, np.floating) and _all_finite(y) and np.array_equal(y, np.round(y)))
        if not integral or (y.size and y.min() < 0):
            raise DataError(f"{where}y_{split} must hold integer class labels 0 … num_classes-1")
        labels.append(y)
    classes = np.unique(splits["train"][1]) if "train" in splits else np.unique(np.concatenate(labels))
    if len(classes) < 2:
        raise DataError(f"{where}y_train holds {len(classes)} class; a classifier needs at least two")
    return int(max(int(y.max()) for y in labels if y.size)) + 1


def _all_finite(x: np.ndarray, chunk: int = 1 << 24) -> bool:
    """``np.isfinite(x).all()`` in pieces, so that a large set needs no full-size mask."""
    flat = x.reshape(-1)
    return all(np.isfinite(flat[i:i + chunk]).all() for i in range(0, flat.size, chunk))


