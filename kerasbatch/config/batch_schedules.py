"""The batch-schedule registry: how a run's batch size may change while it trains (``--batch-schedule``).

An entry names its plan (a class with ``from_run``, in :mod:`kerasbatch.training.schedules`, imported when a
run needs it) and what it asks of the rest of the run's config. Adding a schedule is its plan module plus
one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchSchedule:
    """One schedule.

    Attributes:
        plan: ``"module:Class"`` of its plan; ``None`` for a batch that never changes.
        needs_diagnostic: a diagnostic it reads while training, with the reason.
        needs_lr_schedule: the ``--schedule`` it builds on, with the reason.
        trains_with_lr_schedule: the learning-rate schedule the run compiles with instead of ``--schedule``
            (``increase`` grows the batch where the step decay would drop the rate).
    """

    name: str
    plan: str | None
    needs_diagnostic: tuple[str, str] | None = None
    needs_lr_schedule: tuple[str, str] | None = None
    trains_with_lr_schedule: str | None = None

    @property
    def changes_batch(self) -> bool:
        return self.plan is not None


REGISTRY: dict[str, BatchSchedule] = {s.name: s for s in (
    BatchSchedule("fixed", None),
    BatchSchedule("adaptive", "kerasbatch.training.schedules.adaptive:AdaptivePlan",
                  needs_diagnostic=("gns", "it follows the noise scale")),
    BatchSchedule("increase", "kerasbatch.training.schedules.increase:IncreasePlan",
                  needs_lr_schedule=("step", "increase replaces the step decay's drops"),
                  trains_with_lr_schedule="constant"),
)}

NAMES: tuple[str, ...] = tuple(REGISTRY)
