"""CIFAR ResNets of He et al. 2016 ("Deep Residual Learning for Image Recognition", §4.2).

A 6n+2-layer network: a 3×3 convolution with 16 filters, three stages of n basic blocks with 16,
32 and 64 filters (the first block of stages 2 and 3 halves the resolution), global average
pooling and a dense classifier. Where a block changes shape its shortcut is a 1×1 convolution with
batch normalization (the paper's option B); these projections are not counted in the depth.
resnet20 has about 0.27 M parameters on 32×32×3 input with 10 classes, resnet32 about 0.47 M (the
paper's 0.46 M is with its parameter-free option A shortcuts).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

_STAGE_FILTERS = (16, 32, 64)


def _conv_bn(x, filters: int, kernel_size: int, strides: int, name: str):
    # No conv bias: the batch normalization that follows has its own shift.
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _basic_block(x, filters: int, strides: int, name: str):
    """Two 3×3 conv-BN layers plus a shortcut, ReLU after the addition."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, name=f"{name}_shortcut")
    y = _conv_bn(x, filters, 3, strides, name=f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 3, 1, name=f"{name}_2")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def cifar_resnet(input_shape: Sequence[int], num_classes: int, depth: int = 20,
                 name: str | None = None) -> keras.Model:
    """Build a CIFAR ResNet with ``depth = 6n + 2`` weighted layers (n basic blocks per stage).

    Args:
        input_shape: ``(height, width, channels)``; any size from 8×8 up works (two stride-2 stages
            take 8×8 to 2×2 before the pooling).
        num_classes: number of output classes.
        depth: 20, 32, 44, 56, 110, ...: any ``6n + 2`` with n ≥ 1.
        name: the model's name, by default ``resnet<depth>``.

    Returns:
        An uncompiled ``keras.Model`` ending in a float32 softmax.

    Raises:
        ValueError: ``depth`` is not of the form ``6n + 2``.
    """
    blocks_per_stage, rest = divmod(depth - 2, 6)
    if rest or blocks_per_stage < 1:
        raise ValueError(f"a CIFAR ResNet's depth is 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
    inputs = keras.Input(shape=tuple(input_shape))
    x = _conv_bn(inputs, _STAGE_FILTERS[0], 3, 1, name="stem")
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, filters in enumerate(_STAGE_FILTERS, start=1):
        for block in range(1, blocks_per_stage + 1):
            strides = 2 if stage > 1 and block == 1 else 1
            x = _basic_block(x, filters, strides, name=f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(num_classes, kernel_initializer="he_normal", name="logits")(x)
    # float32 so probabilities and the loss keep full precision under mixed_float16/bfloat16.
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def resnet20(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """ResNet-20 (n = 3), about 0.27 M parameters on CIFAR-10."""
    return cifar_resnet(input_shape, num_classes, depth=20)


def resnet32(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """ResNet-32 (n = 5), about 0.47 M parameters on CIFAR-10; the model of Goyal et al.'s and
    Smith et al.'s large-batch CIFAR experiments."""
    return cifar_resnet(input_shape, num_classes, depth=32)


def resnet56(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """ResNet-56 (n = 9), about 0.86 M parameters on CIFAR-10."""
    return cifar_resnet(input_shape, num_classes, depth=56)
