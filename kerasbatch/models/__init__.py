"""Models by name: the built-in classifiers and a user's ``package.module:function``
(:mod:`kerasbatch.models.registry`); importing this package imports no TensorFlow."""

from kerasbatch.models.registry import MODEL_NAMES, MODELS, ModelEntry, build_model, call_builder, ensure_float32_output

__all__ = ["MODELS", "MODEL_NAMES", "ModelEntry", "build_model", "call_builder", "ensure_float32_output"]
