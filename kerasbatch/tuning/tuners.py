"""The study's KerasTuner tuners: the stock random, Bayesian and Hyperband tuners with trials that are runs.

:func:`make_tuner` builds the tuner :func:`kerasbatch.tuning.tune.tune` searches with, over
``<study>/keras_tuner/search/``, continuing whatever search is saved there; :func:`load_tuner` reloads a
finished or ongoing search read-only (KerasTuner's own API on it), and :func:`best_hyperparameters` reads
its best trial. A search can start at the hyperparameters' defaults (:func:`start_at_defaults`). Resuming,
the chief and the workers: :class:`kerasbatch.tuning.distributed.ResumableTunerMixin`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from kerasbatch.training import train
from kerasbatch.tuning import distributed as dist
from kerasbatch.config.commands import OBJECTIVES, TUNERS
from kerasbatch.errors import KerasbatchError
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import MODEL, Store

KT_DIR, PROJECT = "keras_tuner", "search"


def objective(name: str) -> kt.Objective:
    return kt.Objective(name, OBJECTIVES[name].direction)


class StudyTunerMixin(dist.ResumableTunerMixin):
    """Put in front of a KerasTuner tuner: trials are runs of the study, trained by the hypermodel.

    ``run_trial`` tells the hypermodel the trial and tuner id. Random and Bayesian search skip KerasTuner's
    weight checkpoints (a full save every epoch when the objective is computed after ``fit``); Hyperband
    keeps them, it warm-starts from them. ``load_model`` reads the trial's ``model.keras``, so
    ``get_best_models`` works without them. A hypermodel whose ``declares_whole_space`` is true
    (:class:`kerasbatch.tuning.tune.BatchSizeHyperModel`) declares the search space in
    ``declare_hyperparameters``, without a model built. Resuming and the chief: see ``ResumableTunerMixin``.
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
        if getattr(self.hypermodel, "declares_whole_space", False) and not self.continues_study():
            hp = self.oracle.get_space()  # declared without building a throw-away model
            self.hypermodel.declare_hyperparameters(hp)
            self.oracle.update_space(hp)
        else:
            super().populate_initial_space()

    def report_trial_end(self, trial_id: str) -> None:
        store, run_id = Store.from_dir(self.run_root), f"trial_{trial_id}"
        trial = self.oracle.trials[trial_id]
        if store.is_complete(run_id):
            line = train.describe(stored_run(store, run_id, skipped=False))
        else:  # the run folder is on the worker's disk
            line = trial.status.lower() + (f", score {trial.score:.4g}" if trial.score is not None else "")
        if self.progress is not None:
            self.progress.note(f"[trial {int(trial_id) + 1}/{self.oracle.max_trials}] {line}")


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
    """The study tuner for ``kind`` (a name of ``command_config.TUNERS``): the mixins before KerasTuner's class."""
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


def stored_run(store: Store, run_id: str, skipped: bool = True) -> train.RunResult:
    """The finished run ``run_id`` of ``store``, read back (``skipped``: this process did not train it)."""
    return train.RunResult(run_id, store.run_dir(run_id), store.read_summary(run_id), skipped=skipped)
