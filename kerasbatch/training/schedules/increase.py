"""``increase`` (Smith, Kindermans and Le 2018, "Don't decay the learning rate, increase the batch size").

Where ``--schedule step`` would divide the rate by 10 (at 50% and 75% of the epochs after warm-up), the
batch is multiplied by 10 instead, up to ``max_batch``; the part of the factor the batch cannot take (at
the cap) is taken by the rate, as in the paper's hybrid schedule. Pure arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kerasbatch.training.schedules.plan import Decision, FixedPlan

STEP_DECAY = 10.0  # WarmupSchedule's step decay divides the rate by 10 at each boundary

STEP_FRACTIONS = (0.5, 0.75)  # ... at these fractions of the epochs after warm-up

@dataclass(frozen=True)
class PlannedSwitch:
    """A switch of the ``increase`` schedule: from epoch ``epoch`` (from 0) on, ``batch_size`` and the
    rate multiplied by ``rate_factor`` (below 1 only where the batch hit ``max_batch``)."""

    epoch: int
    batch_size: int
    rate_factor: float
    reason: str

def increase_plan(batch_size: int, epochs: int, warmup_epochs: float, max_batch: int,
                  factor: float = STEP_DECAY) -> list[PlannedSwitch]:
    """Smith et al.'s schedule: the batch multiplied by ``factor`` where step decay would divide the rate.

    A step decay drops the rate at 50% and 75% of the steps after warm-up; with a fixed batch those are
    the same fractions of the epochs. Its switches come at epoch ends, so each takes effect from the
    first epoch that starts at or after its boundary. The rate factor is cumulative.

    Example:
        >>> [(s.epoch, s.batch_size, s.rate_factor) for s in increase_plan(32, 8, 0, max_batch=1000)]
        [(4, 320, 1.0), (6, 1000, 0.3125)]
    """
    plan, batch, rate = [], batch_size, 1.0
    span = epochs - warmup_epochs
    for fraction in STEP_FRACTIONS:
        epoch = math.ceil(warmup_epochs + fraction * span - 1e-9)
        if not 0 < epoch < epochs:
            continue
        wanted = batch * factor
        new = max(batch, min(int(round(wanted)), max_batch))
        rate *= new / wanted  # what the batch could not take, the rate takes (Smith et al.'s hybrid)
        reason = f"step boundary at {fraction:.0%}: batch x{new / batch:g}"
        if new < wanted:
            reason += f" (capped at {max_batch}), rate x{new / wanted:.3g}"
        batch = new
        plan.append(PlannedSwitch(epoch, batch, round(rate, 12), reason))
    return plan

class IncreasePlan(FixedPlan):
    """Smith et al.'s schedule: at the epoch ends where the step decay would drop the rate, the batch grows.

    Args:
        batch_size: the starting batch.
        epochs: the run's epochs (the boundaries are fractions of them after warm-up).
        max_batch: the largest batch; the rest of a factor goes to the rate.
        warmup_epochs: epochs of warm-up before the decay's span.
    """

    @classmethod
    def from_run(cls, config, dataset, model, callbacks, study_dir, max_batch):
        return cls(config.batch_size, config.epochs, max_batch, config.optim.warmup_epochs)

    def __init__(self, batch_size: int, epochs: int, max_batch: int, warmup_epochs: float = 0.0):
        self.switches = {s.epoch: s for s in increase_plan(batch_size, epochs, warmup_epochs, max_batch)}

    def decide(self, epoch, batch_size, factor):
        planned = self.switches.get(epoch)
        if planned is None or planned.batch_size == batch_size and planned.rate_factor == factor:
            return None
        return Decision(planned.batch_size, 1.0, planned.reason), planned.rate_factor
