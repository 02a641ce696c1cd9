"""Tune: a KerasTuner search in which the batch size and the learning rate are the hyperparameters.

Every trial is an ordinary run, trained by :func:`kerasbatch.train.run` into ``<study>/trial_<id>/``
(config, history, summary, model, TensorBoard, the diagnostics) with ``trial_id``, ``tuner_id`` and
``hyperparameters`` added to its summary. KerasTuner keeps its own state in ``<study>/keras_tuner/search/``.
Running the same search again continues it; a finished search trains nothing. A trial whose run
diverged, ran out of memory or broke is a FAILED trial for KerasTuner and the search goes on. A search
from a suggestion (``TuneConfig.from_suggestion``) starts at it: the suggested batch size and rate are the
hyperparameters' defaults and its first trial (:func:`start_at_defaults`).

For a search spread over several processes or machines, see :mod:`kerasbatch.tune_distributed`
(KerasTuner's ``KERASTUNER_*`` variables; a chief without ``KERASTUNER_ORACLE_IP`` binds 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import io
import math
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from kerasbatch import data, distribute, precision, train
from kerasbatch import tune_distributed as dist
from kerasbatch import tuner_internals as internals
from kerasbatch.config import OBJECTIVES, TUNERS, RunConfig, TuneConfig
from kerasbatch.errors import KerasbatchError, StoreError
from kerasbatch.progress import StudyProgress
from kerasbatch.store import HISTORY, MODEL, STUDY, Store

KT_DIR, PROJECT = "keras_tuner", "search"
UNREACHED_SECONDS = 1e6  # 11.6 days: longer than any time to target this tool will measure


def objective(name: str) -> kt.Objective:
    return kt.Objective(name, OBJECTIVES[name].direction)


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


class StudyTunerMixin(dist.ResumableTunerMixin):
    """Put in front of a KerasTuner tuner: trials are runs of the study, trained by the hypermodel.

    ``run_trial`` tells the hypermodel the trial and tuner id. Random and Bayesian search skip KerasTuner's
    weight checkpoints (a full save every epoch when the objective is computed after ``fit``); Hyperband
    keeps them, it warm-starts from them. ``load_model`` reads the trial's ``model.keras``, so
    ``get_best_models`` works without them. Resuming and the chief: see ``ResumableTunerMixin``.
    """

    def __init__(self, *args, run_root: str | Path | None = None, progress: StudyProgress | None = None,
                 defaults_first: bool = False, **kwargs):
        self.run_root = Path(run_root or Path(kwargs.get("directory") or ".").parent)
        self.progress = progress
        super().__init__(*args, **kwargs)
        if defaults_first and not self.is_worker():  # a worker's trials come from the chief's oracle
            start_at_defaults(self.oracle)

    def run_trial(self, trial, *args, **kwargs):
        kwargs.update(trial_id=trial.trial_id, run_id=f"trial_{trial.trial_id}", tuner_id=self.tuner_id)
        if isinstance(self, kt.Hyperband):  # its epochs, initial_epoch and warm start live there
            return super().run_trial(trial, *args, **kwargs)
        model = self.build_for_trial(trial.hyperparameters)
        return self.hypermodel.fit(trial.hyperparameters, model, *args, **kwargs)

    def load_model(self, trial):
        return keras.models.load_model(self.run_root / f"trial_{trial.trial_id}" / MODEL)

    def populate_initial_space(self):
        if isinstance(self.hypermodel, BatchSizeHyperModel) and not self.continues_study():
            hp = self.oracle.get_space()  # declared without building a throw-away model
            self.hypermodel.declare_hyperparameters(hp)
            self.oracle.update_space(hp)
        else:
            super().populate_initial_space()

    def report_trial_end(self, trial_id: str) -> None:
        store, run_id = Store.from_dir(self.run_root), f"trial_{trial_id}"
        trial = self.oracle.trials[trial_id]
        if store.is_complete(run_id):
            line = train.describe(_stored(store, run_id, skipped=False))
        else:  # the run folder is on the worker's disk
            line = trial.status.lower() + (f", score {trial.score:.4g}" if trial.score is not None else "")
        _say(self.progress, f"[trial {int(trial_id) + 1}/{self.oracle.max_trials}] {line}")


class HyperbandMixin:
    """Hyperband over ``max_epochs`` with ``factor`` 3, capped at ``max_trials`` trials."""

    def __init__(self, *args, max_trials: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_trials and not self.is_worker():
            self.oracle.max_trials = max_trials

    def build_hypermodel(self, hp):
        with warnings.catch_warnings():  # a warm start loads weights only; the optimizer starts afresh
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return super().build_hypermodel(hp)


def start_at_defaults(oracle: kt.Oracle) -> None:
    """Make the first trial of ``oracle`` the hyperparameters' defaults; KerasTuner draws it at random.

    Through the oracle's ``populate_space`` hook: the oracle still makes that trial its own way (Hyperband
    puts it first in its first bracket, with that bracket's epochs), then its searched values become the
    defaults. The first trial is the one an oracle without trials makes, so a resumed search has no
    second. Works on a stock tuner's oracle too, before its ``search()``.
    """
    populate = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        first = not oracle.trials
        response = populate(trial_id)
        if first and response.get("status") == "RUNNING":
            values = response["values"]  # the active hyperparameters (and Hyperband's tuner/ entries)
            values.update({hp.name: hp.default for hp in oracle.hyperparameters.space if hp.name in values})
        return response

    oracle.populate_space = populate_space


@functools.cache
def tuner_class(kind: str) -> type:
    """The study tuner for ``kind`` (a name of ``config.TUNERS``): the mixins before KerasTuner's class."""
    base = getattr(kt, TUNERS[kind])
    mixins = (HyperbandMixin, StudyTunerMixin) if issubclass(base, kt.Hyperband) else (StudyTunerMixin,)
    return type(f"Study{base.__name__}", (*mixins, base), {"__module__": __name__})


def make_tuner(kind: str, objective_name: str, hypermodel, directory: Path, *, max_trials: int | None,
               epochs: int, seed: int, progress: StudyProgress | None = None,
               defaults_first: bool = False) -> kt.Tuner:
    """A study tuner of ``kind`` over ``directory/search``, continuing whatever is there.

    ``defaults_first``: the search's first trial is the hyperparameters' defaults (:func:`start_at_defaults`).
    """
    cls = tuner_class(kind)
    budget = {"max_epochs": epochs, "factor": 3} if issubclass(cls, kt.Hyperband) else {}
    # KerasTuner treats seed 0 as "no seed" (a random one), hence the + 1.
    with contextlib.redirect_stdout(io.StringIO()):  # its "Reloading Tuner from …" would mix into tables
        return cls(hypermodel=hypermodel, objective=objective(objective_name), max_trials=max_trials,
                   seed=seed + 1, directory=str(directory), project_name=PROJECT, overwrite=False,
                   progress=progress, defaults_first=defaults_first, **budget)


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
    return [ran.get(run_id) or _stored(store, run_id) for run_id in run_ids if store.is_complete(run_id)]


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


def _stored(store: Store, run_id: str, skipped: bool = True) -> train.RunResult:
    return train.RunResult(run_id, store.run_dir(run_id), store.read_summary(run_id), skipped=skipped)


def _say(progress: StudyProgress | None, line: str) -> None:
    if progress is not None:
        progress.note(line)


def load_tuner(study_dir: str | Path) -> kt.Tuner:
    """The search of ``study_dir`` reloaded through KerasTuner's own API, read-only and without data.

    Use ``get_best_hyperparameters()``, ``oracle.get_best_trials(n)``, ``results_summary()`` or
    ``get_best_models()`` (read from the trials' ``model.keras``) on it.
    """
    study_dir = Path(study_dir)
    manifest = Store.from_dir(study_dir).read_study()
    saved = (study_dir / KT_DIR / PROJECT / "oracle.json").is_file()
    if manifest is None or manifest.get("kind") != "tune" or not saved:
        raise KerasbatchError(f"no KerasTuner search in {str(study_dir)!r}")
    shared = manifest["settings"]
    with dist.single_process():
        return make_tuner(shared["tuner"], shared["objective"], None, study_dir / KT_DIR, max_trials=None,
                          epochs=shared["epochs"], seed=shared["seed"])


def best_hyperparameters(study_dir: str | Path) -> dict[str, Any]:
    """The best completed trial's hyperparameters (``batch_size``, ``learning_rate``), as a dict."""
    best = [t for t in load_tuner(study_dir).oracle.get_best_trials(1) if t.status == "COMPLETED"]
    if not best:
        raise KerasbatchError(f"no trial of {str(study_dir)!r} completed")
    return {k: v for k, v in best[0].hyperparameters.values.items() if not k.startswith("tuner/")}
