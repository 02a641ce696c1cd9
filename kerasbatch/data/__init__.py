"""Datasets by name, a user's arrays, TensorFlow Datasets, and the ``tf.data`` input pipelines."""
