"""The learning rate (and loss scale) the optimizer actually applied, in the epoch logs."""

from __future__ import annotations

import keras

from kerasbatch.optim.state import applied_learning_rate, loss_scale


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
