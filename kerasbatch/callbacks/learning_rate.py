"""The learning rate (and loss scale) the optimizer actually applied."""

from __future__ import annotations

import keras
from keras import ops

from kerasbatch.optim.schedules import rate_at
from kerasbatch.training.precision import loss_scale


def optimizer_steps(model) -> int:
    """Steps the model's optimizer has taken (0 without a compiled model, as before ``fit`` sets one)."""
    iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
    return 0 if iterations is None else int(ops.convert_to_numpy(iterations))


def learning_rate_at(optimizer, step: int) -> float:
    """The optimizer's rate at optimizer step ``step``: its schedule's value there, or its fixed rate.

    Reads the schedule itself (Keras's ``learning_rate`` property only gives the current step's), on the
    inner optimizer of a loss-scale optimizer.
    """
    return rate_at(getattr(optimizer, "inner_optimizer", optimizer)._learning_rate, step)


def applied_learning_rate(optimizer) -> float:
    """The rate used by the optimizer's most recent step (its schedule at ``iterations - 1``)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return learning_rate_at(optimizer, max(int(ops.convert_to_numpy(inner.iterations)) - 1, 0))


class LearningRateLog(keras.callbacks.Callback):
    """Writes ``lr`` (and, under loss scaling, ``loss_scale``) into the epoch logs.

    Args:
        log_loss_scale: also log the dynamic loss scale of a ``LossScaleOptimizer``.
    """

    def __init__(self, log_loss_scale: bool = True):
        super().__init__()
        self.log_loss_scale = log_loss_scale

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["lr"] = applied_learning_rate(self.model.optimizer)
        scale = loss_scale(self.model.optimizer) if self.log_loss_scale else None
        if scale is not None:
            logs["loss_scale"] = scale
