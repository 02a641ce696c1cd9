"""Models by name: the built-in classifiers and a user's ``package.module:function``.

Every model takes ``input_shape`` (without the batch axis) and ``num_classes`` and returns an
uncompiled ``keras.Model`` whose output is float32 class probabilities. Models are built under
whatever global dtype policy is active, so call :func:`build_model` inside the run's precision
scope.

This module does not import TensorFlow or Keras until a model is built, so listing
:data:`MODEL_NAMES` (for example in ``--help``) stays fast.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kerasbatch.config.run import ModelConfig
from kerasbatch.errors import ConfigError, first_line

if TYPE_CHECKING:
    import keras

@dataclass(frozen=True)
class ModelEntry:
    """Everything about one built-in model.

    Attributes:
        factory: ``"module:function"`` of its builder, imported on first use.
        image_input: it needs (height, width, channels) input; the others flatten whatever they get.
        options: the :class:`~kerasbatch.config.run.ModelConfig` fields its builder takes as keywords.
    """

    factory: str
    image_input: bool = False
    options: tuple[str, ...] = ()


MODELS: dict[str, ModelEntry] = {
    "logreg": ModelEntry("kerasbatch.models.simple:logreg"),
    "mlp": ModelEntry("kerasbatch.models.simple:mlp", options=("widths", "dropout")),
    "cnn": ModelEntry("kerasbatch.models.simple:cnn", image_input=True, options=("dropout",)),
    "cnn1d": ModelEntry("kerasbatch.models.simple:cnn1d", options=("dropout",)),
    "resnet20": ModelEntry("kerasbatch.models.resnet:resnet20", image_input=True),
    "resnet32": ModelEntry("kerasbatch.models.resnet:resnet32", image_input=True),
    "resnet56": ModelEntry("kerasbatch.models.resnet:resnet56", image_input=True),
}
"""The built-in models by name."""

BUILDER_PREFIX = "builder:"  # a function handed over in Python (see :mod:`kerasbatch.models.builders`)

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
"""Names :func:`build_model` accepts besides ``package.module:function``."""


def build_model(model: ModelConfig | str, input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """Build an uncompiled classifier from its config (or just its name, with the config's defaults).

    Args:
        model: the model's config; its ``name`` is one of :data:`MODEL_NAMES`, ``package.module:function``
            for a user model, or a ``builder:`` name (:mod:`kerasbatch.models.builders`). The user
            function is called as ``fn(input_shape=..., num_classes=...)`` (or with no arguments) and must
            return a ``keras.Model``; its output is cast to float32 if it is not already.
        input_shape: shape of one example, without the batch axis, e.g. ``(28, 28, 1)``.
        num_classes: number of output classes.

    Returns:
        A ``keras.Model`` mapping a batch of examples to float32 class probabilities
        (user models return whatever their last layer gives, cast to float32).

    Raises:
        ConfigError: the name is unknown, the user model cannot be loaded, raises or does not return
            a ``keras.Model``, or an image model is given non-image input.
    """
    config = ModelConfig(name=model) if isinstance(model, str) else model
    name = config.name
    input_shape = tuple(int(d) for d in input_shape)
    if name.startswith(BUILDER_PREFIX):
        from kerasbatch.models.builders import load_builder

        model = call_builder(load_builder(name), name, input_shape, num_classes)
        return ensure_float32_output(model, input_shape=input_shape)
    if ":" in name:
        model = call_builder(_import_user_model(name), name, input_shape, num_classes)
        return ensure_float32_output(model, input_shape=input_shape)
    entry = MODELS.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)} "
            "(or give a user model as package.module:function)"
        )
    if entry.image_input and len(input_shape) != 3:
        raise ConfigError(
            f"model {name!r} needs image input (height, width, channels); "
            f"this dataset gives shape {input_shape}"
        )
    kwargs = {key: getattr(config, key) for key in entry.options}
    module_name, function_name = entry.factory.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    return factory(input_shape, num_classes, **kwargs)


def ensure_float32_output(
    model: keras.Model, *, input_shape: Sequence[int] | None = None
) -> keras.Model:
    """Return ``model`` with float32 outputs, wrapping it only when needed.

    A model built under a mixed precision policy may end in a float16 or bfloat16 layer; losses
    and metrics computed from such outputs lose precision, so each non-float32 output is passed
    through a float32 linear ``Activation``.

    Args:
        model: a ``keras.Model``.
        input_shape: shape of one example; needed only for models without a symbolic graph
            (subclassed, or a ``Sequential`` built without an ``Input``).

    Returns:
        ``model`` itself if every output is already float32, else a new functional model.
    """
    import keras

    try:
        inputs, outputs = model.inputs, model.outputs
    except AttributeError:
        if input_shape is None:
            raise ValueError(
                f"model {model.name!r} has no symbolic outputs; pass input_shape"
            ) from None
        # Calling on a symbolic input gives the outputs' dtypes without running the model.
        inputs = [keras.Input(shape=tuple(input_shape))]
        outputs = keras.tree.flatten(model(inputs[0]))

    dtypes = [keras.backend.standardize_dtype(t.dtype) for t in outputs]
    if all(dtype == "float32" for dtype in dtypes):
        return model
    cast = [
        t if dtype == "float32" else keras.layers.Activation("linear", dtype="float32")(t)
        for t, dtype in zip(outputs, dtypes)
    ]
    return keras.Model(
        inputs if len(inputs) > 1 else inputs[0],
        cast if len(cast) > 1 else cast[0],
        name=model.name,
    )


def _import_user_model(target: str):
    """The function ``package.module:function`` names."""
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name or ":" in function_name:
        raise ConfigError(f"user model {target!r} must look like package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module {module_name!r} for model {target!r}: {exc}"
        ) from exc
    try:
        return getattr(module, function_name)
    except AttributeError as exc:
        raise ConfigError(f"module {module_name!r} has no attribute {function_name!r}") from exc


def call_builder(fn, target: str, input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """Call a user's model-building function and check that it returned a ``keras.Model``.

    A builder takes ``input_shape=`` and ``num_classes=``, or nothing at all (a notebook's
    ``build_model()``, whose model already knows its input).
    """
    import keras

    if not callable(fn):
        raise ConfigError(f"user model {target!r} is not callable")
    kwargs = _builder_arguments(fn, target, input_shape, num_classes)
    try:
        model = fn(**kwargs)
    except Exception as exc:  # the user's code: their bug to see in one line (the traceback with --debug)
        raise ConfigError(f"model builder {target!r} raised {type(exc).__name__}: {first_line(exc)}") from exc
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f"user model {target!r} returned {type(model).__name__}, not a keras.Model"
        )
    return model


def _builder_arguments(fn, target: str, input_shape: tuple[int, ...], num_classes: int) -> dict:
    """``input_shape=`` and ``num_classes=`` when ``fn`` takes them, nothing when it takes no arguments."""
    # Checked before the call, so that a TypeError raised inside the user's code is reported as theirs.
    kwargs = {"input_shape": input_shape, "num_classes": num_classes}
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return kwargs  # some callables (builtins, C extensions) have no signature to inspect
    for candidate in (kwargs, {}):
        try:
            signature.bind(**candidate)
            return candidate
        except TypeError:
            pass
    raise ConfigError(
        f"user model {target!r} must accept input_shape= and num_classes= keyword arguments, or none"
    )
