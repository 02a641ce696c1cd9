"""The learner's settings: what ``kerasbatch profile`` measures and what ``kerasbatch suggest`` is asked."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kerasbatch.config.checks import choice, int_tuple, number, positive_int
from kerasbatch.config.fields import setting
from kerasbatch.config.run import RunConfig


@dataclass(frozen=True)
class ProfileConfig:
    """What to profile: ``run``'s model, data and precision (its ``batch_size`` is ignored) at each size."""

    run: RunConfig = field(default_factory=RunConfig)
    batch_sizes: tuple[int, ...] = setting((8, 16, 32, 64, 128, 256, 512, 1024), "Batch sizes to measure.")
    find_max: bool = setting(False, "Also find the largest batch that fits (doubling, then bisection).",
                             aliases=("--max",))
    warmup_steps: int = setting(5, "Untimed steps before the timed ones (graph tracing, caches).")
    timed_steps: int = setting(20, "Steps timed per batch size (at least).")
    timed_seconds: float = setting(0.2, "Seconds timed per batch size (at least): millisecond steps need more "
                                        "than 20 for a stable median.")
    budget_seconds: float = setting(120.0, "Time allowed for finding the largest batch.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "batch_sizes", int_tuple("batch_sizes", self.batch_sizes))
        positive_int("warmup_steps", self.warmup_steps)
        positive_int("timed_steps", self.timed_steps)
        number("timed_seconds", self.timed_seconds, 0.0, 600.0)
        number("budget_seconds", self.budget_seconds, 0.0, math.inf, open_low=True)


PREDICTIONS = ("window", "trajectory")


@dataclass(frozen=True)
class SuggestConfig:
    """What the learner is asked.

    ``run`` holds the model, data, optimizer and base rate: ``run.optim.learning_rate`` is the rate that
    works at ``run.optim.base_batch``, the batch the noise scale is measured at; ``run.target`` is the
    validation accuracy to reach.
    """

    run: RunConfig = field(default_factory=lambda: RunConfig(target=0.95))
    budget_seconds: float = setting(120.0, "Wall time for measuring the noise scale (profiling comes on top).")
    max_relative_error: float = setting(0.2, "Stop measuring once the noise scale's relative standard error "
                                             "is below this.")
    baseline_batch: int = setting(32, "The batch size the predicted speed-up is quoted against.")
    candidates: tuple[int, ...] = setting((), "Sizes to choose from; by default multiples of 8 doubling from 8 "
                                              "up to the largest that fits.")
    tolerance: float = setting(0.25, "Sizes predicted within this fraction of the least time count as "
                                     "equally good; the answer is uncertain when they span more than a doubling.")
    prediction: str = setting("window", "Steps at a size from one noise scale read near the goal (window), or "
                                        "from the base run's whole trajectory, stretch by stretch (trajectory).",
                              choices=PREDICTIONS)
    run_suggestion: bool = setting(False, "Then train at the suggestion and record measured against predicted "
                                          "time.", aliases=("--run",))

    def __post_init__(self) -> None:
        number("budget_seconds", self.budget_seconds, 0.0, math.inf, open_low=True)
        number("max_relative_error", self.max_relative_error, 0.0, 10.0, open_low=True)
        positive_int("baseline_batch", self.baseline_batch)
        number("tolerance", self.tolerance, 0.0, 10.0)
        choice("prediction", self.prediction, PREDICTIONS)
        object.__setattr__(self, "candidates", tuple(self.candidates) and int_tuple("candidates", self.candidates))
