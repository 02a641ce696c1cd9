"""Stop a run whose loss is no longer finite, and remember when."""

from __future__ import annotations

import math

import keras


class StopOnNonFinite(keras.callbacks.Callback):
    """Ends training at the first step with a NaN or infinite loss.

    Like Keras's ``TerminateOnNaN``, it sets ``model.stop_training``; unlike it, it also records the
    step in :attr:`diverged_at_step` (counted from 1, ``None`` while the run is healthy), so the run can
    be reported as ``diverged`` rather than merely short.
    """

    def __init__(self):
        super().__init__()
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.diverged_at_step = None
        self._step = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at_step = self._step
            self.model.stop_training = True
