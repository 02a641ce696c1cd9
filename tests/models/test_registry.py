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
from tests.models.conftest import IMAGE_SHAPE


REPO_ROOT = Path(__file__).resolve().parents[2]


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
