"""Stop measuring once the gradient noise scale is known well enough, or the time is up."""

from __future__ import annotations

import time

import keras

from kerasbatch.learner import noise_in_window


class NoiseWatch(keras.callbacks.Callback):
    """Ends the measuring run once the noise scale is known well enough.

    After each epoch it files the epoch's raw estimates from ``noise`` (a
    :class:`~kerasbatch.callbacks.GradientNoise`, called before it) with the validation accuracy, and
    stops training when the target was reached (or none was set) and the noise scale's relative error is
    below ``max_relative_error``, or once ``budget_seconds`` have passed.
    """

    def __init__(self, noise, target: float | None, max_relative_error: float, budget_seconds: float):
        super().__init__()
        self.noise, self.target = noise, target
        self.max_relative_error, self.budget_seconds = max_relative_error, budget_seconds
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.estimates: list[tuple[int, float, float]] = []
        self.accuracy: dict[int, float] = {}
        self._seen, self._start = 0, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        fresh = self.noise.estimates[self._seen:]
        self._seen = len(self.noise.estimates)
        self.estimates.extend((epoch + 1, g, s) for g, s in fresh)
        if logs and logs.get("val_accuracy") is not None:
            self.accuracy[epoch + 1] = float(logs["val_accuracy"])
        reached = self.target is None or any(a >= self.target for a in self.accuracy.values())
        _, error, _ = noise_in_window(self.estimates, self.accuracy, self.target)
        if (reached and error < self.max_relative_error) or time.perf_counter() - self._start > self.budget_seconds:
            self.model.stop_training = True
