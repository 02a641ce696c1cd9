"""What every batch schedule's plan shares: a decision, the fixed plan they extend, the largest batch,
and :func:`make_plan`, which finds a run's plan in the registry (:mod:`kerasbatch.config.batch_schedules`).

Pure arithmetic, no TensorFlow: :class:`~kerasbatch.training.schedules.callback.BatchSizeSchedule` asks the
plan at every re-evaluation point of a ``fit`` and applies what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from kerasbatch.config import batch_schedules
from kerasbatch.config.registry import resolve
from kerasbatch.config.run import RunConfig
from kerasbatch.training.precision import ALIGNMENT  # what Tensor Cores want under float16; harmless on a CPU
from kerasbatch.training.step_time import study_profile

MIN_STEPS_PER_EPOCH = 8  # the default max_batch without a profile leaves at least this many steps


@dataclass(frozen=True)
class Decision:
    """What a policy chose at a re-evaluation point: the batch, the goodput gain over staying, why."""

    batch_size: int
    gain: float
    reason: str

    def switches(self, current: int) -> bool:
        return self.batch_size != current


def default_max_batch(n_train: int, profiled_max: int | None = None) -> int:
    """The largest batch a schedule may reach when ``--max-batch`` is not given.

    The largest size the study's profile found to fit (``kerasbatch profile --find-max``); without one
    (or on a CPU, where memory is rarely the limit) the largest multiple of 8 that still leaves
    :data:`MIN_STEPS_PER_EPOCH` steps per epoch: a batch near the training-set size makes an epoch one
    step, and the noise scale of small data sets rarely justifies it.
    """
    by_data = max(ALIGNMENT, (n_train // MIN_STEPS_PER_EPOCH) // ALIGNMENT * ALIGNMENT)
    return min(by_data, profiled_max) if profiled_max else by_data


class FixedPlan:
    """The whole run at one batch; the base of every plan. A plan is asked at every epoch end and, with
    :attr:`every_steps`, every that many steps; :meth:`decide` may switch the batch and scale the rate."""

    step_time_source = None
    evaluations = 0
    every_steps: int | None = None

    @classmethod
    def from_run(cls, config: RunConfig, dataset, model, callbacks: dict, study_dir, max_batch: int) -> FixedPlan:
        """The plan of a run (``callbacks``: its measuring callbacks by name; ``study_dir``: where a
        profile may be)."""
        return cls()

    def decide(self, epoch: int, batch_size: int, factor: float) -> tuple[Decision, float] | None:
        """``(decision, rate factor)`` to switch to, or ``None`` to stay; ``epoch``: epochs done so far,
        ``factor``: the rate factor in force (relative to the schedule the run was compiled with)."""
        return None


def make_plan(config: RunConfig, dataset, model, callbacks: dict, study_dir) -> tuple[FixedPlan, int | None]:
    """The run's plan and the largest batch it may reach (``None`` for a fixed batch)."""
    entry = batch_schedules.REGISTRY[config.batch_schedule]
    if not entry.changes_batch:
        return FixedPlan(), None
    _, profiled_max = study_profile(study_dir, config)
    max_batch = config.max_batch or max(config.batch_size, default_max_batch(dataset.n_train, profiled_max))
    return resolve(entry.plan).from_run(config, dataset, model, callbacks, study_dir, max_batch), max_batch
