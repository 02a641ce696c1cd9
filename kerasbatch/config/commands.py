"""Typed, validated settings of the commands built on runs: sweep, tune, and the store they write to.

Each wraps a :class:`~kerasbatch.config.run.RunConfig` (the settings every run shares) and declares its own
settings with :func:`~kerasbatch.config.run.setting`, so the CLI builds their flags the same way.
TensorFlow-free, like :mod:`kerasbatch.config.run`: the CLI imports it to show defaults in ``--help``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from kerasbatch.config import batch_schedules
from kerasbatch.config.checks import check, int_tuple, positive_int
from kerasbatch.config.fields import check_choices, setting
from kerasbatch.config.run import DEFAULT_BATCH_SIZES, LR_SCALINGS, RunConfig
from kerasbatch.config.suggestion import centred, read_suggestion


@dataclass(frozen=True)
class SweepConfig:
    """One run per batch size, every other setting identical (``run.batch_size`` is ignored)."""

    run: RunConfig = field(default_factory=RunConfig)
    batch_sizes: tuple[int, ...] = setting(DEFAULT_BATCH_SIZES, "Batch sizes to train at.")

    def __post_init__(self) -> None:
        sizes = int_tuple("batch_sizes", self.batch_sizes)
        check(len(set(sizes)) == len(sizes), "batch_sizes", "must not repeat a size", self.batch_sizes)
        object.__setattr__(self, "batch_sizes", tuple(sorted(sizes)))

    def runs(self) -> list[RunConfig]:
        """One fixed run per size; with ``run.batch_schedule`` adaptive or increase, one more run beside
        them that starts at the smallest size and may grow to the largest (or ``run.max_batch``)."""
        fixed = dataclasses.replace(self.run, batch_schedule="fixed", max_batch=None)
        runs = [fixed.with_batch_size(b) for b in self.batch_sizes]
        if batch_schedules.REGISTRY[self.run.batch_schedule].changes_batch:
            largest = self.run.max_batch or self.batch_sizes[-1]
            runs.append(dataclasses.replace(self.run, batch_size=self.batch_sizes[0], max_batch=largest))
        return runs


TUNERS: dict[str, str] = {"random": "RandomSearch", "bayesian": "BayesianOptimization", "hyperband": "Hyperband"}
"""Search algorithms by name: the KerasTuner tuner each one runs."""


@dataclass(frozen=True)
class Objective:
    """What a search optimises (and what ``export --best`` ranks by).

    Attributes:
        field: the run summary's field it is read from.
        direction: ``max`` or ``min``: which way is better.
    """

    field: str
    direction: str


OBJECTIVES: dict[str, Objective] = {
    "val_accuracy": Objective("best_val_accuracy", "max"),
    "seconds_to_target": Objective("seconds_to_target", "min"),
}


@dataclass(frozen=True)
class TuneConfig:
    """A KerasTuner search in which the batch size and the learning rate are hyperparameters.

    ``run`` holds the settings every trial shares; its ``batch_size`` and ``optim.learning_rate`` are what
    the search varies. The searched rate goes through ``lr_scaling`` (which replaces
    ``run.optim.lr_scaling``): with the default ``none`` the search looks for the rate applied at each
    batch size. ``seconds_to_target`` minimises the time to ``run.target``; a trial that never gets
    there scores worse than any that does.

    ``from_suggestion`` (a ``suggestion.json`` of ``kerasbatch suggest``, or its study folder) is read
    here: its batch size joins ``batch_sizes``, ``lr_range`` keeps its width on a log scale and is centred
    on its rate, and ``first_trial`` holds ``(batch_size, learning_rate)``, the trial the search starts
    with (the rate as searched: the one that ``lr_scaling`` turns into the suggested rate at that batch).
    """

    run: RunConfig = field(default_factory=RunConfig)
    tuner: str = setting("random", "Search algorithm.", choices=tuple(TUNERS))
    max_trials: int = setting(10, "Trials to run (for hyperband: the cap on its brackets' trials).")
    batch_sizes: tuple[int, ...] = setting(DEFAULT_BATCH_SIZES, "Batch-size choices (global batch sizes).")
    lr_range: tuple[float, float] = setting((1e-3, 1.0), "Learning-rate range low,high, searched on a log scale.")
    objective: str = setting("val_accuracy", "What the search optimises.", choices=tuple(OBJECTIVES))
    lr_scaling: str = setting("none", "How the searched rate follows each trial's batch; none searches the rate "
                                      "applied at each batch size.", choices=LR_SCALINGS)
    overwrite: bool = setting(False, "Start the search over instead of continuing it.")
    from_suggestion: str | None = setting(None, "A suggestion.json (or a study holding one): its batch size and "
                                                "rate are the first trial, the rate range is centred on it.")
    # Read from from_suggestion: the first trial's (batch_size, learning_rate), the rate as searched.
    first_trial: tuple[int, float] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        check_choices(self)
        optim = dataclasses.replace(self.run.optim, lr_scaling=self.lr_scaling)  # validates noise_scale too
        object.__setattr__(self, "run", dataclasses.replace(self.run, optim=optim))
        positive_int("max_trials", self.max_trials)
        sizes = int_tuple("batch_sizes", self.batch_sizes)
        check(len(set(sizes)) == len(sizes), "batch_sizes", "must not repeat a size", self.batch_sizes)
        object.__setattr__(self, "batch_sizes", tuple(sorted(sizes)))
        low_high = tuple(self.lr_range) if isinstance(self.lr_range, (list, tuple)) else ()
        ok = len(low_high) == 2 and all(isinstance(v, (int, float)) and 0 < v < math.inf for v in low_high)
        check(ok and low_high[0] < low_high[1], "lr_range", "must be two rates low,high with 0 < low < high",
               self.lr_range)
        object.__setattr__(self, "lr_range", tuple(float(v) for v in low_high))
        check(self.objective != "seconds_to_target" or self.run.target is not None, "objective",
               "seconds_to_target needs a --target", self.objective)
        if self.from_suggestion is not None:
            self._start_at_suggestion()

    def _start_at_suggestion(self) -> None:
        """The suggested batch joins the choices, the rate range is centred on the suggested rate."""
        batch_size, rate = read_suggestion(self.from_suggestion)
        # The searched rate is scaled by lr_scaling at each batch: search the one that gives the suggested rate.
        rate /= dataclasses.replace(self.run.optim, learning_rate=1.0).scaled_learning_rate(batch_size)
        object.__setattr__(self, "batch_sizes", tuple(sorted({*self.batch_sizes, batch_size})))
        object.__setattr__(self, "lr_range", centred(self.lr_range, rate))
        object.__setattr__(self, "first_trial", (batch_size, rate))


@dataclass(frozen=True)
class StoreConfig:
    """Where a study's runs are kept: ``<out>/<study>/<run_id>/``."""

    out: Path = setting(Path("runs"), "Folder of studies.")
    study: str = setting("default", "Study name (a folder under --out).")

    def __post_init__(self) -> None:
        check(isinstance(self.out, (str, Path)) and str(self.out) != "", "out", "must be a folder path", self.out)
        object.__setattr__(self, "out", Path(self.out))
        ok = isinstance(self.study, str) and self.study not in ("", ".", "..") and "/" not in self.study
        check(ok, "study", "must be a plain folder name", self.study)

    @property
    def study_dir(self) -> Path:
        return self.out / self.study
