"""The learner's arithmetic: pure functions of a noise scale and measured step times.

Steps to a target follow ``S(B) = S_min (1 + B_noise/B)`` (McCandlish et al. 2018), so with a step time
``t(B)`` the time to the target is ``T(B) = S_min (1 + B_noise/B) t(B)``; ``S_min`` cancels when sizes are
compared (the noise scale over a window of estimates is :mod:`kerasbatch.noise.window`'s). Numpy only:
:mod:`kerasbatch.learner.suggest` runs the measurements.
"""

from __future__ import annotations

from typing import Any

from kerasbatch.config.scaling import noise_rule
from kerasbatch.errors import KerasbatchError
from kerasbatch.noise.estimators import steps_to_target
from kerasbatch.training.step_time import step_time_at


def relative_time(noise_scale: float, batch_size: int, step_time: float) -> float:
    """``(1 + B_noise/B) · t(B)``: the time to the target up to the constant ``S_min``."""
    return steps_to_target(batch_size, 1.0, noise_scale) * step_time


def best_batch(noise_scale: float, step_times: dict[int, float]) -> int:
    """The size with the least predicted time to the target (the smaller one on a tie)."""
    return min(sorted(step_times), key=lambda b: relative_time(noise_scale, b, step_times[b]))


def larger_sizes_cannot_help(noise_scale: float, step_times: dict[int, float]) -> bool:
    """True when no size above the largest measured one can reach the target sooner.

    A step never gets faster as the batch grows, so any larger ``B'`` takes at least
    ``T(B') = (1 + B_noise/B') t(B') > t(B_max)``: once ``t(B_max)`` alone is no less than the best
    predicted time so far, scanning further only costs. Pass the noise scale's upper end, under which
    larger sizes look best, so the choice at either end of its interval is among the measured sizes.

    Example:
        >>> larger_sizes_cannot_help(100.0, {32: 1.0, 64: 1.1, 128: 1.3, 256: 2.4})
        True
        >>> larger_sizes_cannot_help(100.0, {32: 1.0, 64: 1.1, 128: 1.3})
        False
    """
    if len(step_times) < 2:
        return False
    largest = max(step_times)
    best = min(relative_time(noise_scale, b, t) for b, t in step_times.items())
    return step_times[largest] >= best


def predict(noise_scale: float, interval: tuple[float, float], step_times: dict[int, float], *,
            base_batch: int, base_lr: float, baseline_batch: int) -> dict[str, Any]:
    """Choose a size from measured step times and a noise scale; the whole predicted curve with it.

    Returns ``batch_size``, ``batch_size_interval`` (the choice at either end of the noise scale's
    interval), ``learning_rate`` (the noise-scale rule from ``base_lr`` at ``base_batch``),
    ``predicted_speedup`` over ``baseline_batch`` and ``candidates``.
    """
    if not step_times:
        raise KerasbatchError("no candidate batch size could be measured")
    chosen = best_batch(noise_scale, step_times)
    ends = sorted(best_batch(n, step_times) for n in interval)
    baseline_time = _time_at(noise_scale, baseline_batch, step_times)
    best_time = relative_time(noise_scale, chosen, step_times[chosen])
    rows = []
    for b in sorted(step_times):
        t = relative_time(noise_scale, b, step_times[b])
        rows.append({"batch_size": b, "step_time": step_times[b], "samples_per_second": b / step_times[b],
                     "steps_factor": 1.0 + noise_scale / b, "relative_time": t / best_time,
                     "speedup": baseline_time / t, "learning_rate": base_lr * noise_rule(noise_scale, base_batch, b),
                     "suggested": b == chosen})
    return {"batch_size": chosen, "batch_size_interval": (ends[0], ends[-1]),
            "learning_rate": base_lr * noise_rule(noise_scale, base_batch, chosen),
            "predicted_speedup": baseline_time / best_time, "candidates": rows}


def _time_at(noise_scale: float, batch_size: int, step_times: dict[int, float]) -> float:
    """Relative time at ``batch_size``, its step time interpolated log-log when it was not measured."""
    return relative_time(noise_scale, batch_size, step_time_at(step_times, batch_size))


def candidate_sizes(largest: int, baseline: int) -> list[int]:
    """Multiples of 8 doubling from 8 up to ``largest``, with ``largest`` and the baseline."""
    sizes = {8 * 2**i for i in range(32) if 8 * 2**i <= largest} | {largest, baseline}
    return sorted(b for b in sizes if b <= largest)
