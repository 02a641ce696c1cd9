"""Callbacks that live across several ``fit`` calls, as if there were one."""

from __future__ import annotations

import keras


class Continued(keras.callbacks.Callback):
    """Callbacks that live across several ``fit`` calls, as if there were one.

    ``on_train_begin`` reaches them at the first ``fit`` only; ``on_train_end`` never from ``fit``, but
    from :meth:`finish`, with the last ``fit``'s logs. An epoch may be split over two ``fit`` calls (a
    switch in mid-epoch): with :attr:`epoch_ends` false the part's ``on_epoch_end`` is held back, and
    with :attr:`continues_epoch` the next part's ``on_epoch_begin`` is too, and the model's metrics
    (which ``fit`` resets at every epoch start) get the first part's state back, so the epoch's row
    has its whole loss and accuracy. Every other hook is passed on.
    """

    def __init__(self, callbacks: list[keras.callbacks.Callback]):
        super().__init__()
        self.callbacks = list(callbacks)
        self._begun = False
        self._end_logs = None
        self.epoch_ends, self.continues_epoch = True, False
        self._metric_state: list | None = None

    def set_model(self, model):
        super().set_model(model)
        for c in self.callbacks:
            c.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for c in self.callbacks:
            c.set_params(params)

    def on_train_begin(self, logs=None):
        if not self._begun:
            self._begun = True
            self._each("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._end_logs = logs

    def finish(self) -> None:
        """End training for every callback (once, after the last segment)."""
        self._each("on_train_end", self._end_logs)

    def _each(self, hook: str, *args) -> None:
        for c in self.callbacks:
            getattr(c, hook)(*args)

    def on_epoch_begin(self, epoch, logs=None):
        if not self.continues_epoch:
            self._each("on_epoch_begin", epoch, logs)
        elif self._metric_state is not None:
            for variable, value in zip(self._metric_variables(), self._metric_state):
                variable.assign(value)
        self._metric_state = None

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch_ends:
            self._each("on_epoch_end", epoch, logs)
        else:
            self._metric_state = [keras.ops.convert_to_numpy(v) for v in self._metric_variables()]

    def _metric_variables(self) -> list:
        return [v for metric in self.model.metrics for v in metric.variables]

    def on_train_batch_begin(self, batch, logs=None):
        self._each("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._each("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._each("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._each("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._each("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._each("on_test_batch_end", batch, logs)
