"""One run: config → dataset → model → ``fit`` with measuring callbacks → a summary in the store.

Every command that trains comes through :func:`run`. A failure inside training (a NaN loss, out of
memory, any other exception) is recorded in the run's ``summary.json`` with its status and the caller
goes on; a mistake in the config raises :class:`~kerasbatch.errors.KerasbatchError` before anything is
written.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from kerasbatch.data import datasets as data
from kerasbatch.training import distribute
from kerasbatch.training import precision
from kerasbatch.training.scope import run_scope
from kerasbatch.training.summary import evaluate, summarize
from kerasbatch.training.warm_start import ContinuedCounts, EarlierTraining, earlier_training
from kerasbatch.callbacks import (HistoryFile, LearningRateLog, StopOnNonFinite, TensorBoardScalars, Throughput,
                                  TimeToTarget)
from kerasbatch.callbacks.step_evaluation import StepEvaluation
from kerasbatch.config import batch_schedules
from kerasbatch.config import diagnostics as registry
from kerasbatch.config.registry import resolve
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import ConfigError, KerasbatchError, first_line, out_of_memory
from kerasbatch.models import build_model
from kerasbatch.optim.optimizers import make_optimizer
from kerasbatch.optim.schedules import BatchScaledSchedule, make_schedule
from kerasbatch.optim.state import save_model
from kerasbatch.training.fit import fit_run
from kerasbatch.store import HISTORY, MODEL, TENSORBOARD, Store, atomic_path



@dataclass
class RunResult:
    """What a run left behind. ``skipped`` is true when the store already held it, finished."""

    run_id: str
    path: Path
    summary: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    skipped: bool = False
    model: Any = None

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def describe(result: RunResult) -> str:
    """One line about a finished run, for progress output."""
    s = result.summary
    final = s.get("final_batch_size")
    sizes = f"{s['batch_size']}→{final}" if final and final != s["batch_size"] else f"{s['batch_size']}"
    line = f"batch {sizes} {result.status}"
    if result.skipped:
        return f"{line} (already done)"
    if s.get("final_val_accuracy") is not None:
        line += f", val_accuracy {s['final_val_accuracy']:.3f}"
    if s.get("gns") is not None:
        line += f", gns {s['gns']:.3g}"
    line += f", {s['train_seconds']:.1f} s"
    if s.get("error"):
        line += f" ({s['error']})"
    return line


def run_id_for(config: RunConfig) -> str:
    """The default folder name of a run in a study: its batch size (``adaptive_bs32`` when it changes)."""
    if batch_schedules.REGISTRY[config.batch_schedule].changes_batch:
        return f"{config.batch_schedule}_bs{config.batch_size}"
    return f"bs{config.batch_size}"


def validate(config: RunConfig, *, model: bool = True) -> data.Dataset:
    """Check what can only be checked with TensorFlow at hand: the data, the batch size and (with
    ``model=True``) that the model builds for this data.

    Raises :class:`KerasbatchError` on a mistake; returns the loaded dataset.
    """
    dataset = data.load(config.data)
    data.check_batch_size(dataset, config.batch_size)
    distribute.check_batch(config.strategy, config.batch_size)
    if model:
        with run_scope(precision.resolve(config.precision), config.seed):
            build_model(config.model, dataset.input_shape, dataset.num_classes)
    return dataset


def run(config: RunConfig, store: Store, run_id: str | None = None, *, verbose: int = 2,
        model: keras.Model | None = None, extra: dict[str, Any] | None = None,
        callbacks: list[keras.callbacks.Callback] | None = None, initial_epoch: int = 0,
        warm_start: str | None = None) -> RunResult:
    """Train one run into ``store`` (or return it as stored, when it already finished).

    Args:
        config: the run.
        store: where the run folder goes.
        run_id: the run's folder name; by default ``bs<batch_size>``.
        verbose: Keras's ``fit`` verbosity (0 silent, 2 one line per epoch).
        model: a model already built and compiled for ``config`` (by :func:`compile_model`, as a
            KerasTuner hypermodel does); by default one is built here.
        extra: more fields for the summary (a tuner trial's id and hyperparameters).
        callbacks: more Keras callbacks for ``fit`` (a progress display), called after the measuring ones.
        initial_epoch: epochs ``model`` was trained already (a warm start); the run trains epochs
            ``initial_epoch + 1`` to ``config.epochs`` and its history, epochs, steps and times count
            from epoch 1 of the whole training.
        warm_start: the finished run of ``store`` whose training ``model`` continues (see
            :mod:`kerasbatch.training.warm_start`); its seconds, steps and history rows come first.
    """
    run_id = run_id or run_id_for(config)
    identity = config.identity()
    if store.check_run(run_id, identity):
        return RunResult(run_id, store.run_dir(run_id), store.read_summary(run_id), skipped=True)
    if not 0 <= initial_epoch < config.epochs:
        raise ConfigError(f"initial_epoch must be 0 to {config.epochs - 1} (epochs - 1), got {initial_epoch}")
    earlier = earlier_training(store, warm_start, initial_epoch, config.target)
    # The model is checked by building it below, before the run folder is made.
    dataset = validate(config, model=False)
    policy = precision.resolve(config.precision)
    precision.warn(policy, config.batch_size, on_gpu=bool(tf.config.list_physical_devices("GPU")))
    with run_scope(policy, config.seed, fresh=model is None):
        model = model or compile_model(config, dataset, initial_epoch)
        folder = store.begin_run(run_id, config.to_dict(), identity)
        summary, history = _train(config, dataset, model, folder, verbose, callbacks or [], earlier)
        if initial_epoch:
            summary.update(initial_epoch=initial_epoch, warm_start=warm_start)
        summary.update(run_id=run_id, **(extra or {}))
        store.finish_run(run_id, summary)
    return RunResult(run_id, folder, summary, history, model=model)


def compile_model(config: RunConfig, dataset: data.Dataset, initial_epoch: int = 0) -> keras.Model:
    """The run's model, built under the active precision policy inside the run's strategy, and compiled
    with its optimizer and learning-rate schedule (laid over the epochs after ``initial_epoch``: a warm
    start's optimizer starts afresh).

    A batch that changes (``adaptive``, ``increase``) gets the schedule wrapped in a
    :class:`~kerasbatch.optim.schedules.BatchScaledSchedule`; ``increase`` keeps the rate where the step decay would
    drop it (the batch grows instead).
    """
    with distribute.get_strategy(config.strategy).scope():
        model = build_model(config.model, dataset.input_shape, dataset.num_classes)
        steps_per_epoch = dataset.n_train // config.batch_size
        optim, entry = config.optim, batch_schedules.REGISTRY[config.batch_schedule]
        if entry.trains_with_lr_schedule:
            optim = dataclasses.replace(optim, schedule=entry.trains_with_lr_schedule)
        schedule = make_schedule(optim, config.batch_size, steps_per_epoch, config.epochs - initial_epoch)
        if entry.changes_batch:
            schedule = BatchScaledSchedule(schedule, base_batch=config.batch_size)
        model.compile(optimizer=make_optimizer(config.optim, schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model


def build_callbacks(config: RunConfig, dataset: data.Dataset, folder: Path | None,
                    earlier: EarlierTraining = EarlierTraining(), *,
                    validation=None) -> dict[str, keras.callbacks.Callback]:
    """The measuring callbacks of a run, by name, in the order Keras must call them.

    Measurements come first so that the history file and TensorBoard, last, see every value they
    wrote into the epoch logs. With ``folder=None`` nothing is written to disk. A warm start's counts
    and history rows continue those of the ``earlier`` training. ``validation`` is the pipeline ``fit``
    validates on (made here when not given), for the evaluations every ``config.eval_every_steps`` steps.
    """
    diagnostics = set(config.diagnostics)
    callbacks: dict[str, keras.callbacks.Callback] = {
        "throughput": Throughput(config.batch_size, step_times="step_time" in diagnostics),
        "divergence": StopOnNonFinite(),
        "learning_rate": LearningRateLog(log_loss_scale="loss_scale" in diagnostics),
    }
    # One instance per callback class, however many of the diagnostics it takes; named by its module.
    for path in dict.fromkeys(d.callback for d in registry.REGISTRY.values() if d.name in diagnostics and d.callback):
        callbacks[path.partition(":")[0].rsplit(".", 1)[-1]] = resolve(path).from_run(config, dataset)
    if validation is None:
        validation = data.pipeline(dataset.x_val, dataset.y_val, data.EVAL_BATCH, training=False)
    # After the step timing and the divergence check, before the target that reads its logs.
    callbacks["evaluation"] = StepEvaluation(validation, config.eval_every_steps, initial_step=earlier.steps,
                                             batch_size=config.batch_size)
    if config.target is not None:
        callbacks["target"] = TimeToTarget(config.target, config.batch_size, stop=config.stop_at_target)
    if earlier.steps or earlier.seconds:
        callbacks["continued"] = ContinuedCounts(earlier, config.batch_size)
    if folder is not None:
        callbacks["history"] = HistoryFile(folder / HISTORY, earlier=earlier.rows)
        callbacks["tensorboard"] = TensorBoardScalars(folder / TENSORBOARD)
    return callbacks


def _train(config: RunConfig, dataset: data.Dataset, model: keras.Model, folder: Path, verbose: int,
           extra_callbacks: list[keras.callbacks.Callback], earlier: EarlierTraining):
    val_ds = data.pipeline(dataset.x_val, dataset.y_val, data.EVAL_BATCH, training=False)
    callbacks = build_callbacks(config, dataset, folder, earlier, validation=val_ds)
    status, error, trace, schedule = "ok", None, None, {}
    started = time.perf_counter()
    try:
        schedule = fit_run(model, config, dataset, callbacks, extra_callbacks, val_ds, verbose,
                           initial_epoch=earlier.epoch, study_dir=folder.parent)
    except KerasbatchError:
        raise
    except Exception as exc:  # recorded on the run, so that a sweep can go on
        if out_of_memory(exc):
            status, error = "oom", first_line(exc)
        else:
            status, error, trace = "error", f"{type(exc).__name__}: {first_line(exc)}", traceback.format_exc()
    finally:
        if "tensorboard" in callbacks:
            callbacks["tensorboard"].close()  # on_train_end is skipped when fit raises
    train_seconds = time.perf_counter() - started
    if status == "ok" and callbacks["divergence"].diverged_at_step is not None:
        status = "diverged"
        error = f"loss became NaN or infinite at step {callbacks['divergence'].diverged_at_step}"
    history = callbacks["history"].rows
    summary = summarize(config, callbacks, history, status, error, train_seconds, earlier)
    summary.update(schedule, traceback=trace, data=data.describe(dataset))
    if status == "ok":
        summary.update(evaluate(model, dataset, summary))
        with atomic_path(folder / MODEL) as tmp:
            save_model(model, tmp)
    return summary, history


