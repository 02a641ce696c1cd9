"""The built-in datasets, the batch-size check and the input pipelines."""

import numpy as np
import pytest
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
