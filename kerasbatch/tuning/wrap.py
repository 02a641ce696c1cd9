"""Batch size and learning rate added to a KerasTuner user's own ``HyperModel``.

The user's hypermodel keeps its own hyperparameters (layers, widths, dropout …) and its own ``fit``; this
one adds ``batch_size`` (a choice) and ``learning_rate`` (log scale), sets the rate on the optimizer the
user's ``build`` compiled, and trains each trial at its batch size: ``batch_size=`` for arrays, a re-batched
dataset for a ``tf.data.Dataset``. It works with every KerasTuner tuner and the chief/worker mode, which
see an ordinary ``HyperModel``. With a ``kerasbatch suggest`` answer the suggested batch and rate are the
hyperparameters' defaults; :func:`~kerasbatch.tuning.tuners.start_at_defaults` on the tuner's oracle makes
them the first trial (KerasTuner draws its first trial at random).

Example::

    tuner = kt.RandomSearch(BatchSizeAndRate(MyHyperModel(), batch_sizes=(32, 128, 512)),
                            objective="val_accuracy", max_trials=3)
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from kerasbatch.config.run import DEFAULT_BATCH_SIZES
from kerasbatch.config.scaling import RULES, scale_factor
from kerasbatch.config.suggestion import read_suggestion


class BatchSizeAndRate(kt.HyperModel):
    """``hypermodel`` with ``batch_size`` and ``learning_rate`` as two more hyperparameters.

    Args:
        hypermodel: a ``kt.HyperModel``, or a function ``build(hp)`` returning a compiled model.
        batch_sizes: the batch sizes to choose from.
        lr_range: ``(low, high)`` of the learning rate, searched on a log scale.
        suggestion: a ``kerasbatch suggest`` answer (a ``Suggestion``, or the path of its
            ``suggestion.json`` or study): its batch and rate become the defaults.
        lr_scaling: how the searched rate follows the batch (``none``: the rate is the one applied at each
            batch; ``linear``, ``sqrt``, ``noise``, ``adam`` as in :mod:`kerasbatch.config.scaling`, from
            ``base_batch``; ``noise`` and ``adam`` need ``noise_scale``).
    """

    def __init__(self, hypermodel: kt.HyperModel | Callable, *, batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
                 lr_range: tuple[float, float] = (1e-4, 0.1), suggestion: Any = None, lr_scaling: str = "none",
                 base_batch: int = 32, noise_scale: float | None = None, name: str | None = None):
        super().__init__(name=name or getattr(hypermodel, "name", None), tunable=True)
        self.hypermodel = hypermodel if isinstance(hypermodel, kt.HyperModel) else _Built(hypermodel)
        if lr_scaling not in RULES:
            raise ValueError(f"lr_scaling must be one of {', '.join(RULES)}, got {lr_scaling!r}")
        if lr_scaling in ("noise", "adam") and noise_scale is None:
            raise ValueError(f"lr_scaling={lr_scaling!r} needs the noise_scale")
        self.defaults = _defaults(suggestion)
        sizes = sorted(set(batch_sizes) | ({self.defaults[0]} if self.defaults[0] else set()))
        low, high = lr_range
        if not 0 < low < high:
            raise ValueError(f"lr_range must be 0 < low < high, got {lr_range}")
        self.batch_sizes, self.lr_range = sizes, (low, high)
        self.lr_scaling, self.base_batch, self.noise_scale = lr_scaling, base_batch, noise_scale

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        batch_size = hp.Choice("batch_size", self.batch_sizes, default=self.defaults[0])
        rate = hp.Float("learning_rate", *self.lr_range, sampling="log", default=self.defaults[1])
        model = self.hypermodel.build(hp)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError("the hypermodel's build must return a compiled model (its optimizer gets the rate)")
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if isinstance(getattr(inner, "_learning_rate", None), keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("compile with a constant learning rate: the searched rate replaces it")
        inner.learning_rate = rate * scale_factor(self.lr_scaling, self.base_batch, batch_size, self.noise_scale)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args, **kwargs):
        batch_size = hp.get("batch_size")
        x = args[0] if args else kwargs.get("x")
        if hasattr(x, "unbatch"):  # a tf.data.Dataset: its batches become the trial's
            x = _rebatched(x, batch_size)
            args, kwargs = ((x, *args[1:]), kwargs) if args else (args, {**kwargs, "x": x})
        else:
            kwargs["batch_size"] = batch_size
        return self.hypermodel.fit(hp, model, *args, **kwargs)


class _Built(kt.HyperModel):
    """A build function as a HyperModel (KerasTuner's own wrapping, which is private)."""

    def __init__(self, build: Callable):
        super().__init__()
        self._build = build

    def build(self, hp):
        return self._build(hp)


def _rebatched(dataset, batch_size: int):
    import tensorflow as tf

    batched = isinstance(dataset.element_spec, tuple) and dataset.element_spec[0].shape.rank not in (None, 0) \
        and dataset.element_spec[0].shape[0] is None
    examples = dataset.unbatch() if batched else dataset
    return examples.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _defaults(suggestion: Any) -> tuple[int | None, float | None]:
    if suggestion is None:
        return None, None
    if isinstance(suggestion, (str, Path)):
        return read_suggestion(suggestion)
    return int(suggestion.batch_size), float(suggestion.learning_rate)
