"""Validation between epochs, every N optimizer steps, and the time spent evaluating, kept apart from training."""

from __future__ import annotations

import time

import keras


class StepEvaluation(keras.callbacks.Callback):
    """Evaluates on validation data every ``every`` steps and times every evaluation of the run.

    At every ``every``-th step of the whole training it runs ``model.evaluate`` on ``validation_data``
    and writes ``val_loss``, ``val_accuracy`` (every compiled metric, ``val_``-prefixed) and
    ``eval_seconds`` into that step's logs, so that :class:`TimeToTarget`, placed after it, sees the
    target at the exact step. ``evaluate`` resets the model's metrics, which ``fit`` still accumulates
    for the epoch's training ``loss`` and ``accuracy``; their state is put back afterwards, so the
    history is the same with or without step evaluation. The compiled evaluation function is made once
    and reused: evaluating does not trace the model again.

    The validation Keras runs at epoch ends is timed too (through ``on_test_begin``/``on_test_end``,
    which only ``fit``'s own validation calls here). ``eval_seconds``, the run's total evaluation time so
    far, goes into every epoch's logs; :attr:`eval_seconds` and :attr:`evaluations` hold the totals.
    With ``every=None`` it only times the epoch-end validation.

    Put it after ``Throughput`` (whose step timing then ends before the evaluation starts) and before
    ``TimeToTarget``.

    Args:
        validation_data: a ``tf.data.Dataset`` of ``(x, y)`` batches, as passed to ``fit``.
        every: evaluate every this many steps; ``None`` for epoch ends only.
        initial_step: steps trained before this ``fit`` (a warm start), so the rhythm is the whole
            training's: a run continued at step 6 with ``every=4`` evaluates at steps 8, 12, …
            After :meth:`set_batch_size` the rhythm counts from the switch, in as many examples as before.
        batch_size: examples per training step, needed only by :meth:`set_batch_size`.

    Example:
        >>> evaluation = StepEvaluation(val_ds, every=10)
        >>> model.fit(train_ds, validation_data=val_ds, callbacks=[evaluation])  # doctest: +SKIP
        >>> evaluation.eval_seconds  # doctest: +SKIP
    """

    def __init__(self, validation_data, every: int | None = None, initial_step: int = 0,
                 batch_size: int | None = None):
        super().__init__()
        self.validation_data = validation_data
        self.every = every
        self.initial_step = initial_step
        self.batch_size = batch_size
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.eval_seconds = 0.0
        self.evaluations = 0
        self._step = self.initial_step
        self._anchor = 0  # the rhythm counts from here: step 0, or the step where the batch last changed
        self._test_start = None
        self._examples_between = None

    def set_batch_size(self, batch_size: int) -> None:
        """The batch changes (between ``fit`` calls): keep the examples between evaluations, not the steps."""
        previous, self.batch_size = self.batch_size, batch_size
        if self.every is None:
            return
        if previous is None:
            raise ValueError("StepEvaluation needs the starting batch_size to keep its rhythm across a change")
        self._examples_between = self._examples_between or self.every * previous
        self.every = max(1, round(self._examples_between / batch_size))
        self._anchor = self._step

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        # A step after which training stops (a NaN loss) is not worth an evaluation.
        if self.every is None or (self._step - self._anchor) % self.every or self.model.stop_training:
            return
        start = time.perf_counter()
        results = evaluate_keeping_metrics(self.model, self.validation_data)
        self.eval_seconds += time.perf_counter() - start
        self.evaluations += 1
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in results.items()})
            logs["eval_seconds"] = self.eval_seconds

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_test_end(self, logs=None):
        if self._test_start is not None:
            self.eval_seconds += time.perf_counter() - self._test_start
            self.evaluations += 1
            self._test_start = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["eval_seconds"] = self.eval_seconds


def evaluate_keeping_metrics(model: keras.Model, validation_data) -> dict[str, float]:
    """``model.evaluate`` on ``validation_data`` as a dict, with the model's metric state left as it was.

    Keras shares one set of metric objects between training and evaluation, and ``evaluate`` resets
    them; inside ``fit`` that would leave the epoch's training loss and accuracy counting only the steps
    after the last evaluation.
    """
    variables = [v for metric in model.metrics for v in metric.variables]
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    results = model.evaluate(validation_data, verbose=0, return_dict=True)
    for variable, value in zip(variables, saved):
        variable.assign(value)
    return {name: float(value) for name, value in results.items()}
