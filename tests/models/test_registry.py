"""Model registry: built-in models, their dtypes, and user ``package.module:function`` models."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from kerasbatch.config.run import ModelConfig
from kerasbatch.errors import ConfigError
from kerasbatch.models import MODEL_NAMES, MODELS, build_model, ensure_float32_output
from tests.user_models import half

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def built_models():
    """Every built-in model, built once on tiny 8×8×1 images with 10 classes."""
    return {name: build_model(name, IMAGE_SHAPE, 10) for name in MODEL_NAMES}


@pytest.fixture
def mixed_policy(request):
    """Set the global dtype policy named by the test's parameter, restoring the previous one."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_every_registry_entry_names_an_importable_builder_and_real_options():
    import dataclasses
    import importlib


    assert MODEL_NAMES == ("logreg", "mlp", "cnn", "cnn1d", "resnet20", "resnet32", "resnet56")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    for name, entry in MODELS.items():
        module, function = entry.factory.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert set(entry.options) <= fields, name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_builtin_model_outputs_float32_probabilities(built_models, name):
    model = built_models[name]
    assert model.name == name
    assert model.output_shape == (None, 10)
    assert model.outputs[0].dtype == "float32"
    probabilities = model(keras.ops.ones((2, *IMAGE_SHAPE))).numpy()
    assert probabilities.shape == (2, 10)
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)


@pytest.mark.parametrize(
    ("mixed_policy", "compute_dtype"),
    [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")],
    indirect=["mixed_policy"],
)
def test_builtin_model_under_mixed_precision_keeps_float32_output(mixed_policy, compute_dtype):
    model = build_model(ModelConfig(name="mlp", widths=(16,)), IMAGE_SHAPE, 10)
    dense = model.get_layer("hidden1")
    assert dense.compute_dtype == compute_dtype
    assert dense.variable_dtype == "float32"
    assert model.outputs[0].dtype == "float32"


def test_mlp_uses_widths_and_dropout():
    model = build_model(ModelConfig(name="mlp", widths=(16, 8), dropout=0.25), (2,), 3)
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.rate for layer in dropouts] == [0.25, 0.25]
    # (2*16 + 16) + (16*8 + 8) + (8*3 + 3)
    assert model.count_params() == 48 + 136 + 27


def test_cnn_has_dropout_only_when_asked(built_models):
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in built_models["cnn"].layers)
    model = build_model(ModelConfig(name="cnn", dropout=0.5), IMAGE_SHAPE, 10)
    assert model.get_layer("dropout").rate == 0.5


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


def test_unknown_model_name_lists_known_names():
    with pytest.raises(ConfigError, match="mlp") as info:
        build_model("vgg16", IMAGE_SHAPE, 10)
    assert "package.module:function" in str(info.value)


@pytest.mark.parametrize("name", ["cnn", "resnet20"])
def test_image_model_rejects_non_image_input(name):
    with pytest.raises(ConfigError, match=r"needs image input .*shape \(2,\)"):
        build_model(name, (2,), 10)


def test_user_model_loads_from_module_function():
    model = build_model("tests.user_models:tiny", IMAGE_SHAPE, 4)
    assert model.name == "tiny"
    assert model.output_shape == (None, 4)
    assert model.outputs[0].dtype == "float32"


def test_user_model_with_float16_output_is_cast_to_float32():
    model = half(IMAGE_SHAPE, 4)
    assert model.outputs[0].dtype == "float16"
    wrapped = ensure_float32_output(model)
    assert wrapped is not model
    assert wrapped.outputs[0].dtype == "float32"
    assert wrapped(keras.ops.ones((1, *IMAGE_SHAPE))).dtype == "float32"
    assert build_model("tests.user_models:half", IMAGE_SHAPE, 4).outputs[0].dtype == "float32"


def test_ensure_float32_output_keeps_float32_model(built_models):
    assert ensure_float32_output(built_models["logreg"]) is built_models["logreg"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nonexistent.module:fn", "cannot import module 'nonexistent.module'"),
        ("tests.user_models:missing", "has no attribute 'missing'"),
        ("tests.user_models:not_a_function", "is not callable"),
        ("tests.user_models:not_a_model", "returned dict, not a keras.Model"),
        ("tests.user_models:wrong_signature", "must accept input_shape= and num_classes="),
        ("tests.user_models:", "must look like package.module:function"),
    ],
)
def test_bad_user_model_raises_config_error(target, message):
    with pytest.raises(ConfigError, match=message):
        build_model(target, IMAGE_SHAPE, 4)


def test_importing_registry_does_not_import_tensorflow_or_keras():
    code = (
        "import sys, kerasbatch.models\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    python_path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(python_path)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_a_build_function_handed_over_in_python_becomes_a_model_name(tmp_path, monkeypatch):
    from kerasbatch.models import builders

    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path))

    def build():  # a notebook's habit: no arguments, the model knows its input
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))

    name = builders.register_builder(build)
    assert name.startswith("builder:") and name == builders.register_builder(build)
    assert build_model(name, (3,), 2).output_shape == (None, 2)
    monkeypatch.setattr(builders, "_REGISTERED", {})  # a new process: unpickled from the cache
    assert build_model(name, (3,), 2).output_shape == (None, 2)

    def edited():
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(inputs))

    assert builders.register_builder(edited) != name
