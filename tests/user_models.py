"""User model factories that the model registry tests load as ``tests.user_models:<name>``."""

import keras

not_a_function = 3


def tiny(input_shape, num_classes):
    """A one-layer softmax classifier, uncompiled."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="tiny")


def half(input_shape, num_classes):
    """Like ``tiny`` but the last layer computes in float16, as under a mixed precision policy."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="mixed_float16")(x)
    return keras.Model(inputs, outputs, name="half")


def not_a_model(input_shape, num_classes):
    """Returns something that is not a keras.Model."""
    return {"input_shape": input_shape, "num_classes": num_classes}


def wrong_signature(shape, classes):
    """Takes positional names the registry does not pass."""
    return tiny(shape, classes)


def boom(input_shape, num_classes):
    """A builder with a bug of its own."""
    raise RuntimeError("boom")


class _FailAtBatch(keras.layers.Layer):
    """Passes its input through, but a batch of ``oom_at`` examples raises an out-of-memory error and
    one of ``kill_at`` ends the process as the kernel's out-of-memory killer would.

    Both happen when the batch runs, not when it is traced: a model measured at one size after another
    runs later sizes through one function traced for any batch size.
    """

    def __init__(self, oom_at, kill_at, **kwargs):
        super().__init__(**kwargs)
        self.oom_at, self.kill_at = oom_at, kill_at

    def call(self, x):
        import tensorflow as tf

        size = tf.py_function(self._fail_at, [tf.shape(x)[0]], Tout=tf.int32)
        size.set_shape(())
        return x + tf.cast(size * 0, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def _fail_at(self, size):
        import os
        import signal

        import tensorflow as tf

        if int(size) == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if int(size) == self.oom_at:
            raise tf.errors.ResourceExhaustedError(None, None, f"injected: batch {self.oom_at} does not fit")
        return size


def fails_at_64_and_256(input_shape, num_classes):
    """``tiny`` that is killed at batch 64 and runs out of memory at batch 256."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = _FailAtBatch(oom_at=256, kill_at=64)(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="fails")


def with_batch_norm(input_shape, num_classes):
    """A dense layer, batch normalization, then softmax."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(16, activation="relu")(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x), name="with_bn")
