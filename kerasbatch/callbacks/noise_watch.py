"""Stop measuring once the gradient noise scale is known well enough, or the time is up."""

from __future__ import annotations

import time

import keras

from kerasbatch.noise.window import goal_epoch, noise_in_window


class NoiseWatch(keras.callbacks.Callback):
    """Ends the measuring run where the noise scale matters, or when it is known well enough.

    After each epoch it files the epoch's raw estimates from ``noise`` (a
    :class:`~kerasbatch.callbacks.GradientNoise`, called before it) with the validation accuracy. It stops
    training at the epoch that reaches the target (the weights where the noise scale matters for it;
    :meth:`measure_more` then adds estimates there), without a target once the noise scale's relative
    error is below ``max_relative_error``, once the validation accuracy has stopped rising (no gain of
    ``min_gain`` for ``patience`` epochs and for half the epochs before: a target it is not reaching
    would otherwise hold the run to the budget, measuring a plateau), and in any case once
    ``budget_seconds`` have passed.
    """

    def __init__(self, noise, target: float | None, max_relative_error: float, budget_seconds: float, *,
                 patience: int = 10, min_gain: float = 0.005):
        super().__init__()
        self.noise, self.target = noise, target
        self.max_relative_error, self.budget_seconds = max_relative_error, budget_seconds
        self.patience, self.min_gain = patience, min_gain
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.estimates: list[tuple[int, float, float]] = []
        self.accuracy: dict[int, float] = {}
        self._seen, self._start = 0, time.perf_counter()
        self.stopped_because: str | None = None
        self._best, self._best_epoch = -1.0, 0

    def on_epoch_end(self, epoch, logs=None):
        fresh = self.noise.estimates[self._seen:]
        self._seen = len(self.noise.estimates)
        self.estimates.extend((epoch + 1, g, s) for g, s in fresh)
        if logs and logs.get("val_accuracy") is not None:
            self.accuracy[epoch + 1] = accuracy = float(logs["val_accuracy"])
            if accuracy >= self._best + self.min_gain:
                self._best, self._best_epoch = accuracy, epoch + 1
        if self.reached_at is not None:
            self._stop("reached the target")
        elif self.out_of_time():
            self._stop("the budget was spent")
        elif self.target is None and self.error() < self.max_relative_error:
            self._stop("the noise scale was known well enough")
        elif self.plateaued(epoch + 1):
            self._stop(f"validation accuracy stopped rising after epoch {self._best_epoch}")

    def _stop(self, why: str) -> None:
        self.stopped_because = why
        self.model.stop_training = True

    def plateaued(self, epoch: int) -> bool:
        """No gain of ``min_gain`` in validation accuracy since ``max(patience, best epoch / 2)`` epochs."""
        return bool(self.accuracy) and epoch - self._best_epoch >= max(self.patience, self._best_epoch // 2)

    @property
    def reached_at(self) -> int | None:
        """The first epoch (from 1) whose validation accuracy reached the target."""
        epoch, reached = goal_epoch(self.accuracy, self.target)
        return epoch if reached else None

    def error(self) -> float:
        return noise_in_window(self.estimates, self.accuracy, self.target)[1]

    def out_of_time(self) -> bool:
        return time.perf_counter() - self._start > self.budget_seconds

    def restart(self) -> None:
        """Forget the estimates filed so far (their kind changes: see :func:`kerasbatch.learner.suggest.measure_noise`)."""
        self.estimates = []
        self._seen = len(self.noise.estimates)

    def measure_more(self, batch: int = 16, limit: int = 4096, epoch: int | None = None) -> None:
        """More estimates at the final weights, in batches of ``batch``, until the error is small enough,
        the budget is spent, ``limit`` estimates are filed, or half as much time went on them as on the
        run and at least a twentieth of the budget (the measurement costs at most about 1.5 times the
        training it measures; a run that reached its target within a few probes still gets enough of
        them). They are filed under ``epoch`` (by default the last)."""
        epoch = epoch or max(self.accuracy, default=1)
        began = time.perf_counter()
        allowed = max((began - self._start) / 2, self.budget_seconds / 20)
        while (self.error() >= self.max_relative_error and not self.out_of_time() and len(self.estimates) < limit
               and time.perf_counter() - began < allowed):
            for _ in range(batch):
                self.noise.measure()
            fresh = self.noise.estimates[self._seen:]
            self._seen = len(self.noise.estimates)
            self.estimates.extend((epoch, g, s) for g, s in fresh)
