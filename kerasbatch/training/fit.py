"""One ``fit`` for a run, whatever its batch schedule.

A fixed batch trains on the usual prefetched pipeline. A batch that changes trains on
:class:`~kerasbatch.data.resizable.ResizableBatches`, whose size a
:class:`~kerasbatch.training.schedules.callback.BatchSizeSchedule` sets between steps: the model, its
optimizer and every callback see one run (one ``history.csv``, one TensorBoard stream, one time to
target), and one trace of the train step serves every size.
"""

from __future__ import annotations

from typing import Any

import keras

from kerasbatch.config import batch_schedules
from kerasbatch.config.run import RunConfig
from kerasbatch.data import datasets as data
from kerasbatch.data.resizable import ResizableBatches, quiet_epoch_ends
from kerasbatch.optim.state import learning_rate_at, optimizer_steps
from kerasbatch.training.schedules.callback import BatchSizeSchedule
from kerasbatch.training.schedules.plan import make_plan
from kerasbatch.training.traces import train_traces


def fit_run(model: keras.Model, config: RunConfig, dataset: data.Dataset, callbacks: dict, extra: list, validation,
            verbose: int, initial_epoch: int = 0, study_dir=None) -> dict[str, Any]:
    """Train ``model`` from ``initial_epoch`` to ``config.epochs`` in one ``fit``; what the schedule did.

    ``callbacks`` are the run's measuring callbacks by name, ``extra`` the caller's (a progress display),
    called last. Returns ``batch_schedule``, ``schedule`` (the starting batch, then one entry per switch:
    ``epoch`` (epochs done before it), ``step``, ``batch_size``, ``learning_rate``, ``reason``,
    ``noise_scale``), ``final_batch_size``, ``max_batch``, ``batch_evaluations``, ``switch_seconds``,
    ``step_time_source`` and ``train_traces``. Exceptions from ``fit`` pass through.
    """
    measuring = list(callbacks.values())
    if not batch_schedules.REGISTRY[config.batch_schedule].changes_batch:
        train_ds = data.pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True,
                                 seed=config.seed, augment=config.data.augment)
        step = optimizer_steps(model)
        start = {"epoch": initial_epoch, "step": step, "batch_size": config.batch_size,
                 "learning_rate": learning_rate_at(model.optimizer, step), "reason": "start", "noise_scale": None}
        model.fit(train_ds, validation_data=validation, epochs=config.epochs, initial_epoch=initial_epoch,
                  shuffle=False, callbacks=[*measuring, *extra], verbose=verbose)
        return {"batch_schedule": config.batch_schedule, "schedule": [start], "final_batch_size": config.batch_size,
                "max_batch": None, "batch_evaluations": 0, "step_time_source": None,
                "train_traces": train_traces(model)}
    batches = ResizableBatches(dataset.x_train, dataset.y_train, config.batch_size, seed=config.seed,
                               augment=config.data.augment)
    plan, max_batch = make_plan(config, dataset, model, callbacks, study_dir)
    # After every measurement of a step (and the history file, so that an epoch's row has the batch it
    # trained at), before the caller's display.
    schedule = BatchSizeSchedule(batches, plan, notify=measuring)
    with quiet_epoch_ends():
        model.fit(batches.dataset(), validation_data=validation, epochs=config.epochs, initial_epoch=initial_epoch,
                  shuffle=False, callbacks=[*measuring, schedule, *extra], verbose=verbose)
    return {"batch_schedule": config.batch_schedule, "schedule": schedule.schedule,
            "final_batch_size": batches.batch_size, "max_batch": max_batch,
            "batch_evaluations": plan.evaluations, "switch_seconds": schedule.switch_seconds,
            "step_time_source": plan.step_time_source, "train_traces": train_traces(model)}
