"""``adaptive`` (Pollux/AdaptDL, Qiao et al. 2021): the batch follows the gradient noise scale.

At each re-evaluation point, choose the batch that maximises goodput, ``thr(B) · (B_noise + B0) / (B_noise + B)``,
among multiples of 8 within a factor of two of the current batch (at most doubling, at most halving per
switch), and switch only when the gain beats a threshold (hysteresis: a noisy noise scale must not make
the batch flap); the rate follows the noise-scale rule. Pure arithmetic, the step-time model aside.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from kerasbatch.config.scaling import noise_rule
from kerasbatch.noise.estimators import statistical_efficiency
from kerasbatch.training.precision import ALIGNMENT  # what Tensor Cores want under float16; harmless on a CPU
from kerasbatch.training.schedules.plan import Decision, FixedPlan
from kerasbatch.training.step_time import GradientTimer, StepTimeModel, study_profile

DECISIONS_PER_EPOCH = 4


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
        """The batch from the next step on, given the smoothed noise scale and a step-time model."""
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


class AdaptivePlan(FixedPlan):
    """Goodput from the smoothed noise scale and a step-time model, every ``every_steps`` steps and at
    every epoch end.

    Args:
        base_batch: the batch the run started at (goodput's reference ``B0``).
        max_batch: the largest batch it may choose.
        noise: what holds the running noise scale (``noise.accumulator.gns``: a
            :class:`~kerasbatch.callbacks.gradient_noise.GradientNoise`).
        recent_step_time: the measured time of a recent step at the current batch (seconds; NaN while
            there is none), e.g. :attr:`~kerasbatch.callbacks.throughput.Throughput.recent_step_time`.
        step_time: a model of the step time at any batch with ``source``, ``current_batch`` and
            ``current_time`` (:class:`~kerasbatch.training.step_time.StepTimeModel`).
        every_steps: re-evaluate every this many steps (``None``: at epoch ends only).
    """

    @classmethod
    def from_run(cls, config, dataset, model, callbacks, study_dir, max_batch):
        times, _ = study_profile(study_dir, config)
        timer = None if times else GradientTimer(model, dataset.x_train[:2 * max_batch], dataset.y_train[:2 * max_batch])
        every = config.adapt_every_steps or default_every_steps(dataset.n_train, config.batch_size)
        noise = callbacks["gradient_noise"]
        noise.every = min(noise.every, every)  # a fresh estimate at every decision
        throughput = callbacks["throughput"]
        return cls(config.batch_size, max_batch, noise, lambda: throughput.recent_step_time,
                   StepTimeModel(times, timer), every_steps=every)

    def __init__(self, base_batch: int, max_batch: int, noise, recent_step_time: Callable[[], float], step_time,
                 every_steps: int | None = None):
        self.policy = AdaptivePolicy(max_batch=max_batch)
        self.base_batch, self.every_steps = base_batch, every_steps
        self.noise, self.recent_step_time, self.step_time = noise, recent_step_time, step_time
        self.step_time_source = step_time.source
        self.evaluations = 0

    def decide(self, epoch, batch_size, factor):
        self.evaluations += 1
        noise_scale = self.noise.accumulator.gns
        self.step_time.current_batch, self.step_time.current_time = batch_size, self.recent_step_time()
        if not math.isfinite(self.step_time.current_time):
            return None
        decision = self.policy.choose(batch_size, noise_scale, self.step_time, base_batch=self.base_batch)
        if not decision.switches(batch_size):
            return None
        # McCandlish et al.'s rule from the rate that served the old batch to the new one.
        return decision, factor * noise_rule(noise_scale, batch_size, decision.batch_size)


def default_every_steps(n_train: int, batch_size: int) -> int:
    """Re-evaluate four times an epoch at the starting batch: often enough to follow the noise scale as it
    grows in the first epochs, and each decision still has a fresh estimate behind it."""
    return max(1, n_train // batch_size // DECISIONS_PER_EPOCH)
