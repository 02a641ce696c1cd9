"""Training in segments: one ``fit`` per stretch of epochs at one batch size, the same model throughout.

Keras's ``fit`` takes one dataset per call, so a run whose batch size changes calls ``fit`` once per
segment with ``initial_epoch``: the input pipeline is rebuilt at a switch, the model and its optimizer
(weights, momenta, ``iterations``) go on as they were. The run's measuring callbacks are wrapped in
:class:`Continued`, which lets their ``on_train_begin`` run once and their ``on_train_end`` once, so their
counts, timers and files span the whole run (one ``history.csv``, one TensorBoard stream, one time to
target). The learning rate follows a :class:`~kerasbatch.optim.schedules.BatchScaledSchedule`, whose variables a
switch assigns: the traced train step reads them and is not traced again for that. Nor for the new
batch shape: the pipeline of a run whose batch changes has a generic batch dimension
(:func:`~kerasbatch.data.datasets.generic_batch`), so one trace serves every size. (Without it, Keras's ``reduce_retracing`` would
trace once more, generically, at the first switch: about a second for a small convnet on a CPU.)
"""

from __future__ import annotations

import math
from typing import Any

import keras

from kerasbatch.data import datasets as data
from kerasbatch.config import batch_schedules
from kerasbatch.training.continued import Continued
from kerasbatch.training.traces import train_traces
from kerasbatch.training.schedules.plan import make_plan
from kerasbatch.optim.state import learning_rate_at, optimizer_steps
from kerasbatch.config.run import RunConfig


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
            if batch_schedules.REGISTRY[config.batch_schedule].changes_batch:
                train_ds = data.generic_batch(train_ds)
        end, steps, ends = plan.next_part(config, epoch, done, batch, dataset.n_train)
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
