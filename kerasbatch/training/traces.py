"""How often Keras traced a model's train function: one trace should serve every batch size."""

from __future__ import annotations

import keras


def train_traces(model: keras.Model) -> int | None:
    """How many times the model's train function was traced (``None`` when it cannot be read).

    Keras 3's TensorFlow trainer keeps its ``tf.function`` in the closure of ``model.train_function``; this
    is the one place that looks there. Checked against Keras 3.15 (its tests).
    """
    cells = getattr(getattr(model, "train_function", None), "__closure__", None) or ()
    counts = [c.cell_contents.experimental_get_tracing_count() for c in cells
              if hasattr(c.cell_contents, "experimental_get_tracing_count")]
    return sum(counts) if counts else None
