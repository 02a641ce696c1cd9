"""Time to a target accuracy: the epoch, step, examples and seconds when it is first reached."""

from __future__ import annotations

import time

import keras


class TimeToTarget(keras.callbacks.Callback):
    """Records when ``monitor`` first reaches ``target``; optionally stops training there.

    After training, :attr:`reached` is ``None`` or a dict with ``epochs_to_target``,
    ``steps_to_target``, ``examples_to_target`` and ``seconds_to_target`` (wall time since the start
    of training, up to the end of that epoch's validation). The target can only be seen once per
    epoch, when validation runs, so the step count is that of the epoch's end.

    Args:
        target: the value to reach, e.g. 0.95.
        batch_size: examples per step, to count examples.
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

    def on_train_begin(self, logs=None):
        self.reached = None
        self._steps = 0
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if self.reached is not None or value is None or float(value) < self.target:
            return
        self.reached = {
            "epochs_to_target": epoch + 1,
            "steps_to_target": self._steps,
            "examples_to_target": self._steps * self.batch_size,
            "seconds_to_target": time.perf_counter() - self._start,
        }
        if self.stop:
            self.model.stop_training = True
