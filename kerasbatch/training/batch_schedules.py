"""Batch-size schedules: when a run changes its batch size, to what, and why.

Pure arithmetic, no TensorFlow: :mod:`kerasbatch.training.segments` trains the segments and asks these
policies at every re-evaluation point.

- ``adaptive`` (Pollux/AdaptDL, Qiao et al. 2021): choose the batch that maximises goodput,
  ``thr(B) · (B_noise + B0) / (B_noise + B)``, among multiples of 8 within a factor of two of the current
  batch (at most doubling, at most halving per switch), and switch only when the gain beats a threshold
  (hysteresis: a noisy noise scale must not make the batch flap).
- ``increase`` (Smith, Kindermans and Le 2018, "Don't decay the learning rate, increase the batch size"):
  where ``--schedule step`` would divide the rate by 10 (at 50% and 75% of the epochs after warm-up),
  multiply the batch by 10 instead, up to ``max_batch``; the part of the factor the batch cannot take
  (at the cap) is taken by the rate, as in the paper's hybrid schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kerasbatch.config.run import RunConfig, noise_rule
from kerasbatch.noise.estimators import statistical_efficiency
from kerasbatch.training.precision import ALIGNMENT  # what Tensor Cores want under float16; harmless on a CPU

STEP_DECAY = 10.0  # WarmupSchedule's step decay divides the rate by 10 at each boundary
STEP_FRACTIONS = (0.5, 0.75)  # ... at these fractions of the epochs after warm-up
MIN_STEPS_PER_EPOCH = 8  # the default max_batch without a profile leaves at least this many steps


@dataclass(frozen=True)
class Decision:
    """What a policy chose at a re-evaluation point: the batch, the goodput gain over staying, why."""

    batch_size: int
    gain: float
    reason: str

    def switches(self, current: int) -> bool:
        return self.batch_size != current


def goodput(samples_per_second: float, noise_scale: float, batch_size: int, base_batch: int) -> float:
    """Examples per second times their statistical efficiency relative to ``base_batch``."""
    return samples_per_second * statistical_efficiency(batch_size, base_batch, noise_scale)


@dataclass(frozen=True)
class AdaptivePolicy:
    """Goodput-maximising choice with hysteresis and a cap on the change per switch.

    Args:
        max_batch: the largest batch it may choose.
        min_gain: switch only when the best candidate's goodput is at least this many times the
            current batch's (1.1: a 10% gain).
        growth: the most the batch may grow (or shrink) at one switch (2: at most doubling).
        alignment: candidates are multiples of this.

    Example:
        >>> policy = AdaptivePolicy(max_batch=1024)
        >>> step_time = lambda b: 0.010 + 0.0001 * b   # fixed cost per step plus a cost per example
        >>> policy.choose(32, 400.0, step_time, base_batch=32).batch_size
        64
        >>> policy.choose(32, 2.0, step_time, base_batch=32).batch_size   # no noise: stay
        32
    """

    max_batch: int
    min_gain: float = 1.1
    growth: float = 2.0
    alignment: int = ALIGNMENT

    def candidates(self, current: int) -> list[int]:
        """Multiples of ``alignment`` from ``current / growth`` to ``current · growth`` (capped), and ``current``."""
        low = max(self.alignment, math.ceil(current / self.growth / self.alignment) * self.alignment)
        high = min(self.max_batch, math.floor(current * self.growth / self.alignment) * self.alignment)
        return sorted({current, *range(low, high + 1, self.alignment)})

    def choose(self, current: int, noise_scale: float, step_time: Callable[[int], float], *,
               base_batch: int) -> Decision:
        """The batch for the next segment, given the smoothed noise scale and a step-time model."""
        if not (isinstance(noise_scale, (int, float)) and math.isfinite(noise_scale) and noise_scale > 0):
            return Decision(current, 1.0, "no noise scale yet")
        scores = {b: goodput(b / step_time(b), noise_scale, b, base_batch) for b in self.candidates(current)}
        best = max(scores, key=lambda b: (scores[b], -abs(b - current)))
        gain = scores[best] / scores[current]
        if best == current:
            return Decision(current, 1.0, "current batch has the best goodput")
        if gain < self.min_gain:
            return Decision(current, gain, f"gain {gain:.2f} below {self.min_gain:.2f}")
        return Decision(best, gain, f"goodput x{gain:.2f} at noise scale {noise_scale:.0f}")


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
    the same fractions of the epochs. Segments end at epoch ends, so each switch takes effect from the
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


def default_max_batch(n_train: int, profiled_max: int | None = None) -> int:
    """The largest batch a schedule may reach when ``--max-batch`` is not given.

    The largest size the study's profile found to fit (``kerasbatch profile --find-max``); without one
    (or on a CPU, where memory is rarely the limit) the largest multiple of 8 that still leaves
    :data:`MIN_STEPS_PER_EPOCH` steps per epoch: a batch near the training-set size makes an epoch one
    step, and the noise scale of small data sets rarely justifies it.
    """
    by_data = max(ALIGNMENT, (n_train // MIN_STEPS_PER_EPOCH) // ALIGNMENT * ALIGNMENT)
    return min(by_data, profiled_max) if profiled_max else by_data


# The plans: what a run in segments asks at each segment end.

class FixedPlan:
    """One segment: the whole run at one batch."""

    step_time_source = None

    def segment_end(self, epoch: int, batch_size: int, epochs: int) -> int:
        return epochs

    def decide(self, epoch: int, batch_size: int, factor: float) -> tuple[Decision, float] | None:
        return None


class IncreasePlan(FixedPlan):
    """Smith et al.'s schedule: segments end at the step decay's boundaries, where the batch grows."""

    def __init__(self, config: RunConfig, max_batch: int):
        self.switches = {s.epoch: s for s in increase_plan(config.batch_size, config.epochs,
                                                            config.optim.warmup_epochs, max_batch)}

    def segment_end(self, epoch, batch_size, epochs):
        return min([e for e in self.switches if e > epoch] + [epochs])

    def decide(self, epoch, batch_size, factor):
        planned = self.switches.get(epoch)
        if planned is None or planned.batch_size == batch_size and planned.rate_factor == factor:
            return None
        return Decision(planned.batch_size, 1.0, planned.reason), planned.rate_factor


class AdaptivePlan(FixedPlan):
    """Goodput from the smoothed noise scale and a step-time model, every epoch or every N steps.

    ``noise`` has the running noise scale (``noise.accumulator.gns``), ``throughput`` the step time at
    the current batch (``throughput.recent_step_time``); ``step_time`` is a callable model of the step time
    at any batch with ``source``, ``current_batch`` and ``current_time`` (the segments module's).
    """

    def __init__(self, config: RunConfig, max_batch: int, noise, throughput, step_time):
        self.policy = AdaptivePolicy(max_batch=max_batch)
        self.config = config
        self.noise, self.throughput, self.step_time = noise, throughput, step_time
        self.step_time_source = step_time.source
        self.evaluations = 0

    def segment_end(self, epoch, batch_size, epochs):
        return min(epoch + 1, epochs)  # every epoch; --adapt-every-steps parts are cut by the segments module

    def decide(self, epoch, batch_size, factor):
        self.evaluations += 1
        noise_scale = self.noise.accumulator.gns
        self.step_time.current_batch, self.step_time.current_time = batch_size, self.throughput.recent_step_time
        if not math.isfinite(self.step_time.current_time):
            return None
        decision = self.policy.choose(batch_size, noise_scale, self.step_time, base_batch=self.config.batch_size)
        if not decision.switches(batch_size):
            return None
        # McCandlish et al.'s rule from the rate that served the old batch to the new one.
        return decision, factor * noise_rule(noise_scale, batch_size, decision.batch_size)
