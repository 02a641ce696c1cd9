"""Training in segments: one ``fit`` per stretch of epochs at one batch size, the same model throughout.

Keras's ``fit`` takes one dataset per call, so a run whose batch size changes calls ``fit`` once per
segment with ``initial_epoch``: the input pipeline is rebuilt at a switch, the model and its optimizer
(weights, momenta, ``iterations``) go on as they were. The run's measuring callbacks are wrapped in
:class:`Continued`, which lets their ``on_train_begin`` run once and their ``on_train_end`` once, so their
counts, timers and files span the whole run (one ``history.csv``, one TensorBoard stream, one time to
target). The learning rate follows a :class:`~kerasbatch.optim.schedules.BatchScaledSchedule`, whose variables a
switch assigns: the traced train step reads them and is not traced again for that. Nor for the new
batch shape: the pipeline of a run whose batch changes has a generic batch dimension
(:func:`generic_batch`), so one trace serves every size. (Without it, Keras's ``reduce_retracing`` would
trace once more, generically, at the first switch: about a second for a small convnet on a CPU.)
"""

from __future__ import annotations

import math
from typing import Any

import keras

from kerasbatch.data import datasets as data
from kerasbatch.training.batch_schedules import AdaptivePlan, FixedPlan, IncreasePlan, default_max_batch
from kerasbatch.optim.state import learning_rate_at, optimizer_steps
from kerasbatch.config.run import RunConfig
from kerasbatch.training.step_time import GradientTimer, StepTimeModel, study_profile


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


def generic_batch(dataset):
    """``dataset`` with its batch dimension unknown to the graph (every batch still holds exactly as many
    examples): one trace of the train step then serves every batch size, with no retracing at a switch."""
    import tensorflow as tf

    def relax(x, y):
        generic = lambda t: tf.raw_ops.PlaceholderWithDefault(input=t, shape=[None, *t.shape[1:]])  # noqa: E731
        return generic(x), generic(y)

    return dataset.map(relax).prefetch(tf.data.AUTOTUNE)


def train_traces(model: keras.Model) -> int | None:
    """How many times the model's train function was traced (``None`` when it cannot be read).

    Keras 3's TensorFlow trainer keeps its ``tf.function`` in the closure of ``model.train_function``; this
    is the one place that looks there. Checked against Keras 3.15 (tests/test_batch_schedule.py).
    """
    cells = getattr(getattr(model, "train_function", None), "__closure__", None) or ()
    counts = [c.cell_contents.experimental_get_tracing_count() for c in cells
              if hasattr(c.cell_contents, "experimental_get_tracing_count")]
    return sum(counts) if counts else None


def make_plan(config: RunConfig, dataset: data.Dataset, model: keras.Model, callbacks: dict,
              study_dir) -> tuple[FixedPlan, int | None]:
    """The run's plan and the largest batch it may reach (``None`` for a fixed batch)."""
    if config.batch_schedule == "fixed":
        return FixedPlan(), None
    times, profiled_max = study_profile(study_dir, config)
    max_batch = config.max_batch or max(config.batch_size, default_max_batch(dataset.n_train, profiled_max))
    if config.batch_schedule == "increase":
        return IncreasePlan(config, max_batch), max_batch
    timer = None if times else GradientTimer(model, dataset.x_train[:2 * max_batch], dataset.y_train[:2 * max_batch])
    step_time = StepTimeModel(times, timer)
    return AdaptivePlan(config, max_batch, callbacks["gradient_noise"], callbacks["throughput"],
                        step_time), max_batch


def fit_segments(model: keras.Model, config: RunConfig, dataset: data.Dataset, callbacks: dict,
                 extra: list, validation, verbose: int, initial_epoch: int = 0, study_dir=None) -> dict[str, Any]:
    """Train ``model`` from ``initial_epoch`` to ``config.epochs`` in segments; what the schedule did.

    Returns ``batch_schedule``, ``schedule`` (the starting batch, then one entry per switch: ``epoch``
    (epochs done before it), ``step``, ``batch_size``, ``learning_rate``, ``reason``, ``noise_scale``),
    ``final_batch_size``, ``max_batch``, ``batch_evaluations``, ``step_time_source`` and
    ``train_traces``. Exceptions from ``fit`` pass through.
    """
    plan, max_batch = make_plan(config, dataset, model, callbacks, study_dir)
    # The caller's callbacks (a progress display) too: one start line and one clock for the run.
    continued = Continued([*callbacks.values(), *extra])
    batch, epoch, done, factor, train_ds = config.batch_size, initial_epoch, 0, 1.0, None
    schedule = [_entry(model, epoch, batch, "start", math.nan)]
    while True:
        if train_ds is None:  # a fresh pipeline at a switch, reshuffled unlike the first epoch's
            train_ds = data.pipeline(dataset.x_train, dataset.y_train, batch, training=True,
                                     seed=config.seed + epoch - initial_epoch + done, augment=config.data.augment)
            if config.batch_schedule != "fixed":
                train_ds = generic_batch(train_ds)
        end, steps, ends = _next_part(plan, config, epoch, done, batch, dataset.n_train)
        continued.continues_epoch, continued.epoch_ends = done > 0, ends
        model.fit(train_ds, validation_data=validation if continued.epoch_ends else None, epochs=end,
                  initial_epoch=epoch, steps_per_epoch=steps, shuffle=False, callbacks=[continued], verbose=verbose)
        epoch, done = (end, 0) if continued.epoch_ends else (epoch, done + steps * batch)
        if model.stop_training or epoch >= config.epochs:
            break
        chosen = plan.decide(epoch, batch, factor)
        if chosen is None:
            continue
        decision, factor = chosen
        _switch(model, callbacks, decision.batch_size, factor)
        batch, train_ds = decision.batch_size, None
        noise = getattr(callbacks.get("gradient_noise"), "accumulator", None)
        schedule.append(_entry(model, epoch, batch, decision.reason, noise.gns if noise else math.nan))
    continued.finish()
    return {"batch_schedule": config.batch_schedule, "schedule": schedule, "final_batch_size": batch,
            "max_batch": max_batch, "batch_evaluations": getattr(plan, "evaluations", 0),
            "step_time_source": plan.step_time_source, "train_traces": train_traces(model)}


def _next_part(plan, config: RunConfig, epoch: int, done: int, batch: int,
               n_train: int) -> tuple[int, int | None, bool]:
    """``(epochs, steps_per_epoch, ends_epoch)`` of the next ``fit``: to the plan's next segment end in whole epochs,
    or, for ``adaptive`` with ``adapt_every_steps``, that many steps into the epoch (``done`` examples of
    it trained already). A part that would leave less than two batches of the epoch runs to its end, so
    the next part, at up to twice the batch, still has a step."""
    if not (config.batch_schedule == "adaptive" and config.adapt_every_steps):
        return plan.segment_end(epoch, batch, config.epochs), None, True
    left = (n_train - done) // batch
    steps = config.adapt_every_steps
    if steps >= left or n_train - done - steps * batch < 2 * batch:
        return epoch + 1, (left if done else None), True
    return epoch + 1, steps, False


def batch_scaled_schedule(model: keras.Model):
    from kerasbatch.optim.schedules import BatchScaledSchedule

    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    rate = getattr(optimizer, "_learning_rate", None)
    return rate if isinstance(rate, BatchScaledSchedule) else None


def _switch(model: keras.Model, callbacks: dict, batch_size: int, factor: float) -> None:
    schedule = batch_scaled_schedule(model)
    if schedule is None:
        raise RuntimeError("a changing batch needs the model compiled with a BatchScaledSchedule "
                           "(kerasbatch.training.train.compile_model does it for adaptive and increase)")
    schedule.switch(optimizer_steps(model), batch_size, factor)
    for callback in callbacks.values():
        if hasattr(callback, "set_batch_size"):
            callback.set_batch_size(batch_size)


def _entry(model: keras.Model, epoch: int, batch_size: int, reason: str, noise_scale: float) -> dict[str, Any]:
    """A schedule entry: the batch and the rate of the next step."""
    step = optimizer_steps(model)
    return {"epoch": epoch, "step": step, "batch_size": batch_size,
            "learning_rate": learning_rate_at(model.optimizer, step), "reason": reason,
            "noise_scale": None if not math.isfinite(noise_scale) else float(noise_scale)}
