"""Time to a target accuracy: the epoch, step, examples and training seconds when it is first reached."""

from __future__ import annotations

import time

import keras


class TimeToTarget(keras.callbacks.Callback):
    """Records when ``monitor`` first reaches ``target``; optionally stops training there.

    After training, :attr:`reached` is ``None`` or a dict with ``epochs_to_target`` (the epoch in
    which it was reached, counted from 1), ``steps_to_target``, ``examples_to_target`` and
    ``seconds_to_target``. The target is looked for in every epoch's logs and in the logs of any step
    that holds ``monitor`` (:class:`~kerasbatch.callbacks.step_evaluation.StepEvaluation` writes it every
    N steps), so with step evaluation the step count is the exact step, not the epoch's end; with
    ``stop=True`` training then ends at that step. ``seconds_to_target`` is the wall time since the
    start of training up to that evaluation, less the ``eval_seconds`` (time spent evaluating) found
    in the same logs: training time, whatever the evaluation rhythm.

    Args:
        target: the value to reach, e.g. 0.95.
        batch_size: examples per step, to count examples (:meth:`set_batch_size` when it changes between
            ``fit`` calls: examples are counted step by step).
        stop: end training when the target is reached.
        monitor: the log to watch.
    """

    def __init__(self, target: float, batch_size: int, stop: bool = False, monitor: str = "val_accuracy"):
        super().__init__()
        self.target = target
        self.batch_size = batch_size
        self.stop = stop
        self.monitor = monitor
        self.on_train_begin()

    def set_batch_size(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def on_train_begin(self, logs=None):
        self.reached = None
        self._steps = 0
        self._examples = 0
        self._epoch = 0
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._examples += self.batch_size
        self._check(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs)

    def _check(self, logs) -> None:
        value = (logs or {}).get(self.monitor)
        if self.reached is not None or value is None or float(value) < self.target:
            return
        self.reached = {
            "epochs_to_target": self._epoch + 1,
            "steps_to_target": self._steps,
            "examples_to_target": self._examples,
            "seconds_to_target": time.perf_counter() - self._start - float(logs.get("eval_seconds", 0.0)),
        }
        if self.stop:
            self.model.stop_training = True
