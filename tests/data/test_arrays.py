"""Arrays from .npz files and from memory: loaded, split and checked before training."""

import re

import numpy as np
import pytest

from kerasbatch.data import datasets as data
from kerasbatch.config.run import DataConfig
from kerasbatch.errors import DataError


def test_npz_arrays_with_and_without_validation(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (50, 4, 4, 3), dtype=np.uint8), "y_train": rng.integers(0, 3, 50),
              "x_test": rng.integers(0, 255, (10, 4, 4, 3), dtype=np.uint8), "y_test": rng.integers(0, 3, 10)}
    np.savez(tmp_path / "a.npz", **arrays)
    ds = data.load(DataConfig(dataset=f"npz:{tmp_path / 'a.npz'}", val_fraction=0.2))
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (40, 10, 10)
    assert ds.num_classes == 3 and ds.x_train.dtype == np.uint8
    np.savez(tmp_path / "b.npz", **arrays, x_val=arrays["x_test"][:4], y_val=arrays["y_test"][:4])
    assert len(data.load(DataConfig(dataset=f"npz:{tmp_path / 'b.npz'}")).x_val) == 4


def test_npz_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.load(DataConfig(dataset=f"npz:{tmp_path / 'none.npz'}"))
    np.savez(tmp_path / "c.npz", x_train=np.zeros((3, 2)))
    with pytest.raises(DataError, match="y_train"):
        data.load(DataConfig(dataset=f"npz:{tmp_path / 'c.npz'}"))


def _npz_with(tmp_path, **changes):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.normal(size=(40, 3)).astype("float32"), "y_train": np.arange(40) % 3,
              "x_test": rng.normal(size=(10, 3)).astype("float32"), "y_test": np.arange(10) % 3}
    arrays.update(changes)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return DataConfig(dataset=f"npz:{path}")


@pytest.mark.parametrize("changes, message", [
    ({"x_train": np.full((40, 3), np.nan, "float32")}, "x_train holds NaN or infinite values"),
    ({"x_test": np.full((10, 3), np.inf, "float32")}, "x_test holds NaN or infinite values"),
    ({"y_train": np.arange(40) % 3 + 0.5}, "y_train must hold integer class labels"),
    ({"y_test": -(np.arange(10) % 3)}, "y_test must hold integer class labels"),
    ({"y_train": np.zeros(40, int)}, "y_train holds 1 class; a classifier needs at least two"),
    ({"y_train": np.arange(39) % 3}, "x_train has 40 rows but y_train has shape (39,)"),
    ({"x_test": np.zeros((10, 4), "float32")}, "x_test has examples of shape (4,)"),
])
def test_npz_arrays_are_checked_before_training(tmp_path, changes, message):
    with pytest.raises(DataError, match=re.escape(message)):
        data.load(_npz_with(tmp_path, **changes))


def test_integral_float_labels_are_accepted(tmp_path):
    ds = data.load(_npz_with(tmp_path, y_train=(np.arange(40) % 3).astype("float32")))
    assert ds.num_classes == 3 and ds.y_train.dtype == np.int64


def test_in_memory_arrays_are_named_by_content_and_found_again_from_the_cache(tmp_path, monkeypatch):
    from kerasbatch.data import arrays

    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 3)).astype("float32"), np.arange(50) % 2
    name = arrays.register_arrays(x, y, validation_data=(x[:10], y[:10]))
    assert name.startswith("arrays:") and name == arrays.register_arrays(x, y, validation_data=(x[:10], y[:10]))
    assert arrays.register_arrays(x + 1, y, validation_data=(x[:10], y[:10])) != name  # other content, other name
    ds = data.load(DataConfig(dataset=name))
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (40, 10, 10)  # 20 % of train held out for test
    monkeypatch.setattr(arrays, "_REGISTERED", {})  # a new process: only the cache has them
    again = arrays.load_registered(name.split(":")[1])
    assert np.array_equal(again[0][0], x) and again[2] is None
    with pytest.raises(DataError, match="x_train holds NaN"):
        arrays.register_arrays(np.full((4, 2), np.nan), np.arange(4) % 2)
    with pytest.raises(DataError, match="no arrays with fingerprint 00"):
        data.load(DataConfig(dataset="arrays:00"))
