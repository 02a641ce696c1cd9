"""Throughput and step time, with the first steps of a run (graph tracing) left out."""

from __future__ import annotations

import math
import time

import keras


class Throughput(keras.callbacks.Callback):
    """Writes ``seconds``, ``elapsed``, ``steps``, ``examples``, ``batch_size`` and ``samples_per_second``
    into the epoch logs.

    ``samples_per_second`` counts only the time inside training steps after the first ``skip_steps``
    of the run, where TensorFlow traces the graph; validation is not in it. An epoch with no timed step
    reports NaN. With ``step_times=True`` it also writes ``step_time_median`` and ``step_time_p90``
    (seconds). After training, :attr:`samples_per_second` holds the figure for the whole run. A run whose
    batch changes between ``fit`` calls says so with :meth:`set_batch_size`: examples are counted step
    by step at the batch each step had.

    Args:
        batch_size: examples per training step.
        skip_steps: steps at the start of the run that are not timed.
        step_times: also report the median and 90th percentile step time.

    Example:
        >>> meter = Throughput(batch_size=32)
        >>> model.fit(x, y, batch_size=32, callbacks=[meter])  # doctest: +SKIP
        >>> meter.samples_per_second  # doctest: +SKIP
    """

    def __init__(self, batch_size: int, skip_steps: int = 1, step_times: bool = True):
        super().__init__()
        self.batch_size = batch_size
        self.skip_steps = skip_steps
        self.step_times = step_times
        self.on_train_begin()

    def set_batch_size(self, batch_size: int) -> None:
        """Examples per step from the next step on."""
        self.batch_size = batch_size
        self._since = len(getattr(self, "_durations", ()))

    def on_train_begin(self, logs=None):
        self.steps = 0
        self.examples = 0
        self.timed_seconds = 0.0
        self.timed_steps = 0
        self.timed_examples = 0
        self.last_step_time = math.nan
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._durations: list[float] = []
        self._epoch_timed_examples = 0
        self._since = 0  # where the current batch size's step times start

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        duration = time.perf_counter() - self._step_start
        self.steps += 1
        self.examples += self.batch_size
        if self.steps > self.skip_steps:
            self._durations.append(duration)
            self._epoch_timed_examples += self.batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        now = time.perf_counter()
        timed = sum(self._durations)
        self.timed_seconds += timed
        self.timed_steps += len(self._durations)
        self.timed_examples += self._epoch_timed_examples
        ordered = sorted(self._durations)
        if ordered:
            self.last_step_time = _quantile(ordered, 0.5)
        logs["seconds"] = now - self._epoch_start
        logs["elapsed"] = now - self._start
        logs["steps"] = self.steps
        logs["examples"] = self.examples
        logs["batch_size"] = self.batch_size
        logs["samples_per_second"] = self._epoch_timed_examples / timed if timed else math.nan
        if self.step_times:
            logs["step_time_median"] = _quantile(ordered, 0.5)
            logs["step_time_p90"] = _quantile(ordered, 0.9)

    @property
    def recent_step_time(self) -> float:
        """Median step time at the current batch size in the epoch so far (the last epoch's before any)."""
        durations = getattr(self, "_durations", [])[getattr(self, "_since", 0):]
        return _quantile(sorted(durations), 0.5) if durations else self.last_step_time

    @property
    def samples_per_second(self) -> float:
        """Examples per second over every timed step of the run."""
        if not self.timed_seconds:
            return math.nan
        return self.timed_examples / self.timed_seconds


def _quantile(ordered: list[float], q: float) -> float:
    """numpy's default (linear) percentile of sorted values, without numpy's per-call cost on short lists."""
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
