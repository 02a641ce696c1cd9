"""Datasets by name, a user's arrays, TensorFlow Datasets, and the ``tf.data`` input pipelines."""

from kerasbatch.data.arrays import register_arrays
from kerasbatch.data.datasets import DATASET_NAMES, Dataset, describe, load, pipeline
from kerasbatch.data.resizable import ResizableBatches

__all__ = ["DATASET_NAMES", "Dataset", "ResizableBatches", "describe", "load", "pipeline", "register_arrays"]
