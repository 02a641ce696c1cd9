"""Suggest: the batch size (and its learning rate) that reaches the target soonest on this machine.

The learner has two halves (McCandlish et al. 2018; Qiao et al. 2021):

1. **statistics** — train from scratch at the base batch ``B0`` with the configured rate and measure the
   gradient noise scale ``B_noise`` with the diagnostics' estimator, where it matters: it grows as the loss
   falls, so the value used is the one measured as the target is approached, and the run goes on until
   its relative standard error is below ``max_relative_error`` or the budget is spent;
2. **hardware** — :mod:`kerasbatch.profile` measures the step time ``t(B)`` of candidate sizes.

Steps to the target follow ``S(B) = S_min (1 + B_noise/B)``, so the time is
``T(B) = S_min (1 + B_noise/B) t(B)``; ``S_min`` cancels when sizes are compared, and the suggestion is the
``B`` that minimises ``(1 + B_noise/B) t(B)``. Its learning rate follows the noise-scale rule
``lr(B) = lr0 (1 + B_noise/B0) / (1 + B_noise/B)`` (§2.2 there; derived for SGD).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kerasbatch.config import OptimConfig, RunConfig, noise_rule
from kerasbatch.errors import KerasbatchError
from kerasbatch.store import Store, make_dir, write_json

SUGGESTION = "suggestion.json"
Progress = Callable[[str], None]
Z95 = 1.96  # two-sided 95 % normal quantile


@dataclass(frozen=True)
class SuggestConfig:
    """What the learner is asked.

    Attributes:
        run: the model, data, optimizer and base rate (``run.optim.learning_rate`` is the rate that works
            at ``run.optim.base_batch``, the batch the noise scale is measured at); ``run.target`` is the
            validation accuracy to reach.
        budget_seconds: wall time for the noise measurement (the profile comes on top).
        max_relative_error: stop measuring once the noise scale's relative standard error is below this.
        baseline_batch: the size the predicted speed-up is quoted against.
        candidates: sizes to choose from; empty for multiples of 8 doubling from 8 up to the largest
            that fits.
        run_suggestion: then train at the suggestion and record measured against predicted time.
    """

    run: RunConfig = field(default_factory=lambda: RunConfig(target=0.95))
    budget_seconds: float = 120.0
    max_relative_error: float = 0.2
    baseline_batch: int = 32
    candidates: tuple[int, ...] = ()
    run_suggestion: bool = False


@dataclass
class NoiseMeasurement:
    """The noise scale measured while training at ``batch_size``, with its uncertainty and history."""

    noise_scale: float
    relative_error: float
    batch_size: int
    micro_batch_size: int
    window: tuple[int, int]  # the epochs (from 1, inclusive) the value is averaged over
    trajectory: list[float]  # per-epoch noise scale, in order
    steps_to_target: int | None
    seconds: float

    @property
    def interval(self) -> tuple[float, float]:
        """An approximate 95 % interval: ``B_noise ± 1.96 standard errors`` (the lower end kept positive)."""
        spread = Z95 * self.relative_error * self.noise_scale
        return max(self.noise_scale - spread, self.noise_scale * 0.05), self.noise_scale + spread


@dataclass
class Suggestion:
    """The learner's answer; ``candidates`` is the whole predicted curve, one dict per size."""

    batch_size: int
    learning_rate: float
    noise_scale: float
    noise_scale_interval: tuple[float, float]
    batch_size_interval: tuple[int, int]
    predicted_speedup: float
    baseline_batch: int
    candidates: list[dict[str, Any]]
    measurement: dict[str, Any] = field(default_factory=dict)
    cost_seconds: float = math.nan
    predicted_seconds_to_target: float | None = None
    measured: dict[str, Any] | None = None

    def table(self):
        """The predicted curve as a pandas DataFrame, one row per candidate size."""
        import pandas as pd

        return pd.DataFrame(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- the arithmetic: pure functions, tested on synthetic curves ----------------------------------------


def relative_time(noise_scale: float, batch_size: int, step_time: float) -> float:
    """``(1 + B_noise/B) · t(B)``: the time to the target up to the constant ``S_min``."""
    return (1.0 + noise_scale / batch_size) * step_time


def best_batch(noise_scale: float, step_times: dict[int, float]) -> int:
    """The size with the least predicted time to the target (the smaller one on a tie)."""
    return min(sorted(step_times), key=lambda b: relative_time(noise_scale, b, step_times[b]))


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
    if batch_size in step_times:
        return relative_time(noise_scale, batch_size, step_times[batch_size])
    sizes = sorted(step_times)
    log_t = np.interp(math.log(batch_size), np.log(sizes), np.log([step_times[b] for b in sizes]))
    return relative_time(noise_scale, batch_size, float(np.exp(log_t)))


def noise_from_history(history: Sequence[dict[str, float]], target: float | None) -> tuple[float, float, tuple[int, int]]:
    """``(B_noise, relative standard error, window)`` from a run's per-epoch ``grad_sq``/``trace_sigma``.

    The window is where the target is approached: the second half of the epochs up to the one that
    reached it (all of them when it was never reached). Numerator and denominator are averaged apart and
    divided last; the error is the delta method's over the window's epochs.
    """
    rows = [r for r in history if _finite(r.get("grad_sq")) and _finite(r.get("trace_sigma"))]
    if not rows:
        return math.nan, math.inf, (0, 0)
    epochs = [int(r["epoch"]) for r in rows]
    reached = next((int(r["epoch"]) for r in history
                    if target is not None and _finite(r.get("val_accuracy")) and r["val_accuracy"] >= target), None)
    last = reached if reached is not None else epochs[-1]
    first = max(1, math.ceil(last / 2))
    chosen = [r for r in rows if first <= int(r["epoch"]) <= last] or rows[-1:]
    g = np.asarray([r["grad_sq"] for r in chosen], dtype=float)
    s = np.asarray([r["trace_sigma"] for r in chosen], dtype=float)
    return (*ratio_with_error(s, g), (int(chosen[0]["epoch"]), int(chosen[-1]["epoch"])))


def ratio_with_error(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """``mean(numerator) / mean(denominator)`` and its relative standard error (delta method)."""
    n = len(numerator)
    mean_s, mean_g = float(np.mean(numerator)), float(np.mean(denominator))
    if not mean_g > 0 or not mean_s > 0:
        return math.nan, math.inf
    ratio = mean_s / mean_g
    if n < 2:
        return ratio, math.inf
    cov = np.cov(numerator, denominator, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mean_g**2)
    return ratio, math.sqrt(max(variance, 0.0)) / ratio


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def candidate_sizes(largest: int, baseline: int) -> list[int]:
    """Multiples of 8 doubling from 8 up to ``largest``, with ``largest`` and the baseline."""
    sizes = {8 * 2**i for i in range(32) if 8 * 2**i <= largest} | {largest, baseline}
    return sorted(b for b in sizes if b <= largest)
