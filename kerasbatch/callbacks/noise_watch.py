"""Stop measuring once the gradient noise scale is known well enough, or the time is up."""

from __future__ import annotations

import time

import keras

from kerasbatch.noise.window import noise_in_window


class NoiseWatch(keras.callbacks.Callback):
    """Ends the measuring run where the noise scale matters, or when it is known well enough.

    After each epoch it files the epoch's raw estimates from ``noise`` (a
    :class:`~kerasbatch.callbacks.GradientNoise`, called before it) with the validation accuracy. It stops
    training at the epoch that reaches the target (the weights where the noise scale matters for it;
    :meth:`measure_more` then adds estimates there), without a target once the noise scale's relative
    error is below ``max_relative_error``, and in any case once ``budget_seconds`` have passed.
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
        if self.reached_at is not None or self.out_of_time():
            self.model.stop_training = True
        elif self.target is None and self.error() < self.max_relative_error:
            self.model.stop_training = True

    @property
    def reached_at(self) -> int | None:
        """The first epoch (from 1) whose validation accuracy reached the target."""
        return next((e for e in sorted(self.accuracy) if self.target is not None and self.accuracy[e] >= self.target),
                    None)

    def error(self) -> float:
        return noise_in_window(self.estimates, self.accuracy, self.target)[1]

    def out_of_time(self) -> bool:
        return time.perf_counter() - self._start > self.budget_seconds

    def measure_more(self, batch: int = 16, limit: int = 4096) -> None:
        """More estimates at the final weights, in batches of ``batch``, until the error is small enough,
        the budget is spent or ``limit`` estimates are filed."""
        epoch = max(self.accuracy, default=1)
        while self.error() >= self.max_relative_error and not self.out_of_time() and len(self.estimates) < limit:
            for _ in range(batch):
                self.noise.measure()
            fresh = self.noise.estimates[self._seen:]
            self._seen = len(self.noise.estimates)
            self.estimates.extend((epoch, g, s) for g, s in fresh)
