"""Small classifiers: logistic regression, a multilayer perceptron, an MNIST-class convnet and a 1-D convnet.

Each returns an uncompiled ``keras.Model`` ending in a float32 softmax, built under the global
dtype policy active at call time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
from keras import layers


def _softmax(x):
    # float32 so probabilities and the loss keep full precision under mixed_float16/bfloat16.
    return layers.Activation("softmax", dtype="float32", name="probabilities")(x)


def logreg(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """Multinomial logistic regression: flatten, one dense layer, softmax.

    Example:
        >>> logreg((8, 8, 1), 10).output_shape
        (None, 10)
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Flatten()(inputs)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, _softmax(x), name="logreg")


def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    widths: Sequence[int] = (128, 64),
    dropout: float = 0.0,
) -> keras.Model:
    """Multilayer perceptron: flatten, one ReLU dense layer per width, softmax.

    Args:
        input_shape: shape of one example, without the batch axis.
        num_classes: number of output classes.
        widths: units of each hidden layer, input side first.
        dropout: rate of the dropout after each hidden layer; 0 adds no dropout layers.

    Example:
        >>> mlp((2,), 3, widths=(16,)).count_params()
        99
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Flatten()(inputs)
    for i, width in enumerate(widths, start=1):
        x = layers.Dense(width, activation="relu", name=f"hidden{i}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dropout{i}")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, _softmax(x), name="mlp")


def cnn(input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> keras.Model:
    """Two-block convnet for MNIST-sized images; also fits images as small as 4×4.

    Conv(32, 3×3) → max-pool 2 → Conv(64, 3×3) → max-pool 2 → flatten → [dropout] →
    Dense(128, ReLU) → Dense(num_classes) → softmax. Convolutions use "same" padding so
    small images (8×8 digits) keep enough spatial extent for both pools.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.
        dropout: rate of the dropout before the dense head; 0 adds no dropout layer.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten()(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, _softmax(x), name="cnn")


def cnn1d(input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> keras.Model:
    """The small 1-D convnet of MNIST-1D (Greydanus 2020; about 94% test accuracy there).

    Three Conv1D(25, 5, stride 2, ReLU) layers → flatten → [dropout] → Dense(num_classes) → softmax.
    (length, channels) input is used as is; any other shape is read as one channel of all its values.

    Args:
        input_shape: ``(length,)`` or ``(length, channels)``; other shapes are flattened.
        num_classes: number of output classes.
        dropout: rate of the dropout before the dense head; 0 adds no dropout layer.

    Example:
        >>> cnn1d((40,), 10).count_params()
        7710
    """
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs if len(input_shape) == 2 else layers.Reshape((math.prod(input_shape), 1))(inputs)
    for i in range(1, 4):
        x = layers.Conv1D(25, 5, strides=2, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.Flatten()(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, _softmax(x), name="cnn1d")
