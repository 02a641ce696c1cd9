"""TensorFlow Datasets sets, on mock data and offline."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kerasbatch.data import datasets as data
from kerasbatch.config.run import DataConfig
from kerasbatch.errors import DataError


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
