"""Tune: a KerasTuner search in which the batch size and the learning rate are the hyperparameters.

Every trial is an ordinary run, trained by :func:`kerasbatch.training.train.run` into ``<study>/trial_<id>/``
(config, history, summary, model, TensorBoard, the diagnostics) with ``trial_id``, ``tuner_id`` and
``hyperparameters`` added to its summary. KerasTuner keeps its own state in ``<study>/keras_tuner/search/``.
Running the same search again continues it; a finished search trains nothing. A trial whose run
diverged, ran out of memory or broke is a FAILED trial for KerasTuner and the search goes on. A search
from a suggestion (``TuneConfig.from_suggestion``) starts at it: the suggested batch size and rate are the
hyperparameters' defaults and its first trial (:func:`kerasbatch.tuning.tuners.start_at_defaults`). The tuners
themselves, and reloading a search (``load_tuner``, ``best_hyperparameters``): :mod:`kerasbatch.tuning.tuners`.

For a search spread over several processes or machines, see :mod:`kerasbatch.tuning.distributed`
(KerasTuner's ``KERASTUNER_*`` variables; a chief without ``KERASTUNER_ORACLE_IP`` binds 127.0.0.1).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import shutil
import uuid
from typing import Any

import keras
import keras_tuner as kt

from kerasbatch.data import datasets as data
from kerasbatch.training import distribute
from kerasbatch.training import precision
from kerasbatch.training import train
from kerasbatch.tuning import distributed as dist
from kerasbatch.tuning import internals
from kerasbatch.config.commands import TuneConfig
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import StoreError
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import HISTORY, MODEL, STUDY, Store
from kerasbatch.tuning.tuners import KT_DIR, make_tuner, stored_run

UNREACHED_SECONDS = 1e6  # 11.6 days: longer than any time to target this tool will measure


def seconds_to_target_score(summary: dict[str, Any]) -> float:
    """The ``seconds_to_target`` objective of a finished run (smaller is better).

    A run that reached the target scores its time to it. One that did not scores
    ``UNREACHED_SECONDS * (1 + shortfall) + 10 * train_seconds``, where ``shortfall`` is how far its best
    validation accuracy stayed below the target: worse than any run that got there, nearer ones first.
    Finite, not ``inf``: Bayesian optimization fits a Gaussian process to the scores.
    """
    reached = summary.get("seconds_to_target")
    if reached is not None and math.isfinite(reached):
        return float(reached)
    best = summary.get("best_val_accuracy")
    shortfall = 1.0 if best is None or not math.isfinite(best) else min(max(summary["target"] - best, 0.0), 1.0)
    return UNREACHED_SECONDS * (1.0 + shortfall) + 10.0 * float(summary.get("train_seconds") or 0.0)


class BatchSizeHyperModel(kt.HyperModel):
    """Batch size and learning rate as KerasTuner hyperparameters; every trial trained by ``train.run``.

    Works with any KerasTuner tuner; ``search()`` takes no data (the data is ``config.run``'s)::

        import keras_tuner as kt
        tuner = kt.RandomSearch(BatchSizeHyperModel(cfg, Store("runs", "my-search")),
                                objective=kt.Objective("val_accuracy", "max"), max_trials=3,
                                directory="runs/my-search/keras_tuner", project_name="search")
        tuner.search()

    Args:
        config: the search; ``config.run`` holds every setting the trials share.
        store: where the trial runs go (``runs/tune`` by default).
        progress: the display trials report to (their start, epochs and end); ``None`` for silence.
        verbose: Keras's per-epoch output inside each trial.
        dataset: the loaded data, when the caller has it already.
    """

    # No hyperparameter is conditional: a study tuner takes the space from declare_hyperparameters and
    # builds no throw-away models to discover it.
    declares_whole_space = True

    def __init__(self, config: TuneConfig, store: Store | None = None, *, progress: StudyProgress | None = None,
                 verbose: int = 0, dataset: data.Dataset | None = None) -> None:
        super().__init__(name="batch_size_and_learning_rate")
        self.config, self.store = config, store or Store("runs", "tune")
        self.progress, self.verbose, self._dataset = progress, verbose, dataset
        self.results: list[train.RunResult] = []  # what this process ran, in order

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        self.trial_config(hp)

    def trial_config(self, hp: kt.HyperParameters) -> RunConfig:
        """The run of the trial ``hp`` describes (Hyperband's ``tuner/epochs`` become its epochs)."""
        run = self.config.run
        first_batch, first_rate = self.config.first_trial or (None, None)  # None: KerasTuner's own defaults
        learning_rate = hp.Float("learning_rate", *self.config.lr_range, sampling="log", default=first_rate)
        batch_size = hp.Choice("batch_size", list(self.config.batch_sizes), default=first_batch)
        return dataclasses.replace(run, batch_size=batch_size, epochs=hp.values.get("tuner/epochs", run.epochs),
                                   optim=dataclasses.replace(run.optim, learning_rate=learning_rate))

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        config = self.trial_config(hp)
        if self._dataset is None:
            self._dataset = data.load(config.data)
        with train.run_scope(precision.resolve(config.precision), config.seed, fresh=False):
            return train.compile_model(config, self._dataset, hp.values.get("tuner/initial_epoch", 0))

    def fit(self, hp, model, *args, **kwargs) -> dict[str, float]:
        """Train the trial with ``train.run``: its metrics, or ``FailedTrialError`` when the run failed.

        A mistake the user can fix (``KerasbatchError``) or a bug ends the search (``FatalError``) rather
        than failing one trial after another.
        """
        try:
            return self._fit(hp, model, *args, **kwargs)
        except (kt.errors.FailedTrialError, kt.errors.FatalError):
            raise
        except Exception as exc:
            raise kt.errors.FatalError(f"{type(exc).__name__}: {exc}") from exc

    def _fit(self, hp, model, *args, run_id=None, trial_id=None, tuner_id=None, callbacks=None, epochs=None,
             initial_epoch=0, verbose=None, **kwargs) -> dict[str, float]:
        if args or kwargs:
            raise kt.errors.FatalTypeError(f"search() takes no data or fit arguments here (the trials train on "
                                           f"config.run's data), got {len(args)} arguments and {sorted(kwargs)}")
        callbacks = list(callbacks or ())
        extra = [c for c in callbacks if not internals.is_tuner_callback(c)]
        if extra:
            raise kt.errors.FatalTypeError(f"trials train with kerasbatch's own callbacks; cannot add {extra}")
        if trial_id is None:  # a stock tuner's run_trial: the trial is known to its callback
            trial_id, tuner_id = internals.trial_ids(callbacks)
        config = self.trial_config(hp)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=epochs)
        run_id = run_id or (f"trial_{trial_id}" if trial_id is not None else f"trial_{uuid.uuid4().hex[:8]}")
        summary_extra = {"trial_id": trial_id, "tuner_id": tuner_id,
                         "hyperparameters": {"batch_size": config.batch_size,
                                             "learning_rate": config.optim.learning_rate}}
        # Hyperband continues an earlier trial from its weights: the run counts that trial's training too.
        warm_start = f"trial_{hp.values['tuner/trial_id']}" if "tuner/trial_id" in hp.values else None
        label = f"[trial {int(trial_id) + 1}/{self.config.max_trials}]" if str(trial_id).isdigit() else f"[{run_id}]"
        feed = []
        if self.progress is not None:
            self.progress.start_run(len(self.results) + 1, config.batch_size, config.epochs,
                                    learning_rate=config.optim.learning_rate, label=label)
            feed = [self.progress.callback()]
        result = train.run(config, self.store, run_id, model=model, extra=summary_extra,
                           verbose=self.verbose if verbose is None else verbose, initial_epoch=initial_epoch,
                           warm_start=warm_start, callbacks=feed)
        self.results.append(result)
        if self.progress is not None:
            self.progress.finish_run(train.describe(result))
        if not result.ok:
            raise kt.errors.FailedTrialError(f"run {run_id} {result.status}: {result.summary.get('error')}")
        for path in internals.checkpoint_paths(callbacks):  # Hyperband warm-starts later trials from it
            (result.model or keras.models.load_model(result.path / MODEL)).save_weights(path)
        result.model = None
        return trial_metrics(result)


def trial_metrics(result: train.RunResult) -> dict[str, float]:
    """What a trial reports to KerasTuner: the objectives (seconds_to_target with a target) and the final loss."""
    with open(result.path / HISTORY, newline="") as fh:
        rows = list(csv.DictReader(fh))
    metrics = {"val_accuracy": result.summary["best_val_accuracy"],
               "loss": float(rows[-1]["loss"]) if rows else math.nan}
    if result.summary.get("target") is not None:
        metrics["seconds_to_target"] = seconds_to_target_score(result.summary)
    return metrics


def settings(config: TuneConfig) -> dict[str, Any]:
    """What every trial of the study shares, and the search itself (``max_trials`` may grow)."""
    shared = config.run.identity()
    shared.pop("batch_size")
    shared["optim"].pop("learning_rate")
    shared.update(tuner=config.tuner, objective=config.objective, batch_sizes=list(config.batch_sizes),
                  lr_range=list(config.lr_range))
    if config.first_trial is not None:  # where the file lives is no part of the study; what it said is
        shared["first_trial"] = dict(zip(("batch_size", "learning_rate"), config.first_trial))
    return shared


def tune(config: TuneConfig, store: Store, *, progress: StudyProgress | None = None,
         verbose: int = 2) -> list[train.RunResult]:
    """Run (or continue) the search ``config`` in ``store``; the trials' results, read from the store.

    Everything is checked (data, model, batch sizes, distribution variables, the study's earlier
    settings) before anything is written. A worker returns the trials it ran; a chief or a single
    process, every trial of the study.

    Args:
        config: the search.
        store: the study folder.
        progress: the display trials report to (``[trial 3/4] batch 128 ok, …``); ``None`` for silence.
        verbose: Keras's per-epoch output inside each trial (0 for none).
    """
    with dist.environment() as role, internals.whole_file_saves():
        dataset = _prepare(config, store, role, progress)
        hypermodel = BatchSizeHyperModel(config, store, progress=progress, verbose=verbose, dataset=dataset)
        tuner = make_tuner(config.tuner, config.objective, hypermodel, store.study_dir / KT_DIR,
                           max_trials=config.max_trials, epochs=config.run.epochs, seed=config.run.seed,
                           progress=progress, defaults_first=config.first_trial is not None)
        if role != "worker":
            tuner.oracle.verbose = 0  # our progress lines replace KerasTuner's trial tables
            where = f"chief on {dist.address()}: " if role == "chief" else ""
            _say(progress, f"{where}{config.tuner} search, {len(tuner.oracle.end_order)} of {config.max_trials} "
                           "trials done")
        try:
            with internals.quiet_failures():
                tuner.search()
        except kt.errors.FatalError as exc:
            if exc.__cause__ is not None:  # ours, wrapped so that KerasTuner stops: the real error
                raise exc.__cause__ from None
            raise
    ran = {r.run_id: r for r in hypermodel.results}
    run_ids = list(ran) if role == "worker" else [f"trial_{t}" for t in sorted(tuner.oracle.trials)]
    return [ran.get(run_id) or stored_run(store, run_id) for run_id in run_ids if store.is_complete(run_id)]


def _prepare(config: TuneConfig, store: Store, role: str, progress: StudyProgress | None) -> data.Dataset:
    """Check everything, then (chief or single process) start over if asked and claim the study."""
    largest = config.run.with_batch_size(max(config.batch_sizes))
    # The chief only hands out trials: it checks the data and model, not the training strategy.
    dataset = train.validate(dataclasses.replace(largest, strategy="default") if role == "chief" else largest)
    if role != "chief":
        for batch_size in config.batch_sizes:
            distribute.check_batch(config.run.strategy, batch_size)
    if role == "worker":
        _say(progress, f"worker {os.environ[dist.ID]}: waiting for the chief at {dist.address()}")
        dist.wait_for_chief()
    elif role == "chief":
        dist.check_port_free()
    if config.overwrite and role != "worker":
        _start_over(store)
    store.claim_study("tune", settings(config))
    return dataset


def _start_over(store: Store) -> None:
    """Remove the search's state, trial runs and manifest (never on a worker: they may be reading)."""
    existing = store.read_study()
    if existing is not None and existing.get("kind") != "tune":
        raise StoreError(f"study {str(store.study_dir)!r} is a {existing.get('kind')} study; "
                         "use another --study for a tune")
    shutil.rmtree(store.study_dir / KT_DIR, ignore_errors=True)
    for folder in store.study_dir.glob("trial_*"):
        shutil.rmtree(folder)
    (store.study_dir / STUDY).unlink(missing_ok=True)


def _say(progress: StudyProgress | None, line: str) -> None:
    if progress is not None:
        progress.note(line)
