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
