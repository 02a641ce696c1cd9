import re

import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.linear_model import LogisticRegression

from kerasbatch.data import datasets as data
from kerasbatch.config.run import DataConfig
from kerasbatch.errors import DataError


def test_dots_are_two_classes_no_straight_line_separates():
    ds = data.load(DataConfig(dataset="dots", dots_samples=1000, dots_noise=0.1))
    assert ds.input_shape == (2,) and ds.num_classes == 2
    assert len(ds.x_train) + len(ds.x_val) + len(ds.x_test) == 1000
    linear = LogisticRegression().fit(ds.x_train, ds.y_train).score(ds.x_test, ds.y_test)
    assert linear < 0.92  # a curved boundary is needed; an mlp gets near 1.0 on this data


def test_dots_size_noise_and_seed_are_honoured():
    a = data.load(DataConfig(dataset="dots", dots_samples=300, data_seed=1))
    b = data.load(DataConfig(dataset="dots", dots_samples=300, data_seed=1))
    c = data.load(DataConfig(dataset="dots", dots_samples=300, data_seed=2))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


def test_digits_are_the_bundled_8x8_images_split_three_ways():
    ds = data.load(DataConfig(dataset="digits", val_fraction=0.1))
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert len(ds.x_test) == round(1797 * 0.2)
    assert len(ds.x_val) == round((1797 - len(ds.x_test)) * 0.1)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0


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


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        data.load(DataConfig(dataset="mnist"))


def test_batch_larger_than_training_set_is_refused():
    ds = data.load(DataConfig(dataset="dots", dots_samples=100))
    data.check_batch_size(ds, ds.n_train)
    with pytest.raises(DataError, match="larger than"):
        data.check_batch_size(ds, ds.n_train + 1)


def test_training_pipeline_drops_the_partial_batch_and_reshuffles():
    x = np.arange(10, dtype="float32")[:, None]
    y = np.arange(10)
    ds = data.pipeline(x, y, 4, training=True, seed=3)
    first = [b[1].numpy().tolist() for b in ds]
    second = [b[1].numpy().tolist() for b in ds]
    assert [len(b) for b in first] == [4, 4]
    assert first != second
    evaluation = [len(b[1]) for b in data.pipeline(x, y, 4, training=False)]
    assert evaluation == [4, 4, 2]


def test_uint8_images_are_scaled_and_augmented_in_the_pipeline():
    x = np.full((8, 6, 6, 3), 255, dtype=np.uint8)
    x[:, :, :3] = 0  # left half dark, so a flip is visible
    batches = list(data.pipeline(x, np.zeros(8, "int64"), 8, training=True, augment=True, seed=1))
    images = batches[0][0].numpy()
    assert images.shape == (8, 6, 6, 3) and images.max() <= 1.0
    plain = list(data.pipeline(x, np.zeros(8, "int64"), 8, training=False))[0][0].numpy()
    assert plain.max() == 1.0 and not np.allclose(images, plain)


def test_tfds_set_loads_through_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=60):
        ds = data.load(DataConfig(dataset="tfds:mnist", data_dir=str(tmp_path)))
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10 and ds.x_train.dtype == np.uint8
    assert len(ds.x_test) == 60 and len(ds.x_val) + len(ds.x_train) == 60


def test_tfds_offline_without_data_names_the_folder(tmp_path):
    with pytest.raises(DataError, match=f"not prepared in '{tmp_path}'.*--download"):
        data.load(DataConfig(dataset="tfds:mnist", data_dir=str(tmp_path)))


def test_tfds_unknown_set(tmp_path):
    with pytest.raises(DataError, match="unknown TensorFlow Datasets set 'nosuchset'"):
        data.load(DataConfig(dataset="tfds:nosuchset", data_dir=str(tmp_path)))


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


def test_mnist1d_is_generated_once_into_the_cache_and_leaves_global_rngs_alone(tmp_path, monkeypatch):
    import random

    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path))
    np.random.seed(123)
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())
    ds = data.load(DataConfig(dataset="mnist1d", mnist1d_samples=300, val_fraction=0.25))
    assert np.array_equal(np.random.get_state()[1], before[0]) and random.getstate() == before[1]
    assert ds.input_shape == (40,) and ds.num_classes == 10
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (180, 60, 60)  # 0.8 train by the generator
    assert set(np.unique(ds.y_train)) == set(range(10)) and ds.x_train.dtype == np.float32
    cached = tmp_path / "mnist1d-300-seed0.npz"
    assert cached.is_file()
    monkeypatch.setattr(data, "_generate_mnist1d", lambda *a: pytest.fail("generated twice"))
    again = data.load(DataConfig(dataset="mnist1d", mnist1d_samples=300, val_fraction=0.2))
    assert np.array_equal(np.sort(np.concatenate([again.y_train, again.y_val])),
                          np.sort(np.concatenate([ds.y_train, ds.y_val])))


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
