"""The CIFAR ResNets: depth, parameter counts, one depth parameter."""

import keras
import pytest

from kerasbatch.models import build_model


@pytest.mark.parametrize(("name", "depth"), [("resnet20", 20), ("resnet32", 32), ("resnet56", 56)])
def test_resnet_depth_counts_weighted_layers(built_models, name, depth):
    layers = built_models[name].layers
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
    # The paper's depth leaves out the 1×1 projection shortcuts (first block of stages 2 and 3).
    projections = [conv for conv in convs if conv.kernel_size == (1, 1)]
    assert len(projections) == 2
    assert len(convs) - len(projections) + len(dense) == depth


@pytest.fixture(scope="module")
def resnet32_cifar():
    """ResNet-32 on CIFAR-10's shape, built once: it is the slowest model here to build."""
    return build_model("resnet32", (32, 32, 3), 10)


def test_resnet20_on_cifar_shape_has_about_027m_parameters():
    model = build_model("resnet20", (32, 32, 3), 10)
    assert 260_000 <= model.count_params() <= 280_000


def test_resnet32_on_cifar_shape_has_about_046m_parameters_and_32_layers(resnet32_cifar):
    # He et al. give 0.46 M with parameter-free shortcuts; the two 1×1 projections add 2.9 k.
    assert 455_000 <= resnet32_cifar.count_params() <= 475_000
    convs = [layer for layer in resnet32_cifar.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in resnet32_cifar.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len([c for c in convs if c.kernel_size == (3, 3)]) == 31  # + the dense layer = 32
    assert len(norms) == len(convs)  # batch norm after every convolution, projections included
    assert resnet32_cifar.get_layer("pool").output.shape[1:] == (64,)
    assert resnet32_cifar(keras.ops.zeros((2, 32, 32, 3))).shape == (2, 10)


def test_resnet_depth_is_one_parameter_shared_by_the_named_models(resnet32_cifar):
    from kerasbatch.models.resnet import cifar_resnet

    model = cifar_resnet((32, 32, 3), 10, depth=32)
    assert model.name == "resnet32" and model.count_params() == resnet32_cifar.count_params()
    smallest = cifar_resnet((8, 8, 1), 3, depth=8)  # n = 1: the stem and one block of two per stage
    assert len([layer for layer in smallest.layers if getattr(layer, "kernel_size", None) == (3, 3)]) == 7
    for depth in (30, 2, 33):
        with pytest.raises(ValueError, match=f"6n \\+ 2 .*got {depth}"):
            cifar_resnet((8, 8, 1), 10, depth=depth)
