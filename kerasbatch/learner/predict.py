"""The learner's arithmetic: pure functions of a noise scale and measured step times.

Steps to a goal follow ``S(B) = S_min (1 + B_noise/B)`` (McCandlish et al. 2018). The noise scale grows
as the loss falls, so the model is applied piecewise over the base run (:class:`StepsModel`): each stretch
of the ``S0`` steps it took at ``B0`` would take ``(1 + B_noise(t)/B) / (1 + B_noise(t)/B0)`` times as
many at ``B``, and ``S(B) = S0 · Σ_t w_t (1 + B_noise(t)/B) / (1 + B_noise(t)/B0)`` with ``w_t`` each
stretch's share of the steps. One stretch is the classic window form. With a step time ``t(B)`` the time
to the goal is ``T(B) = S(B) t(B)``. Numpy only: :mod:`kerasbatch.learner.suggest` runs the measurements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kerasbatch.config.scaling import RULES
from kerasbatch.errors import KerasbatchError
from kerasbatch.training.step_time import step_time_at


@dataclass(frozen=True)
class StepsModel:
    """Steps to the goal at a batch size, over the base run's: ``S(B) / S(B0)``.

    ``stretches`` are ``(share of the base run's steps, B_noise over them)``; one stretch is the window form.
    """

    stretches: tuple[tuple[float, float], ...]
    base_batch: int

    @classmethod
    def window(cls, noise_scale: float, base_batch: int = 1) -> StepsModel:
        return cls(((1.0, float(noise_scale)),), base_batch)

    def factor(self, batch_size: float) -> float:
        total = sum(w for w, _ in self.stretches)
        return sum(w * (1.0 + n / batch_size) / (1.0 + n / self.base_batch) for w, n in self.stretches) / total

    def floor(self) -> float:
        """The factor's limit as the batch grows without bound: no batch needs fewer steps."""
        total = sum(w for w, _ in self.stretches)
        return sum(w / (1.0 + n / self.base_batch) for w, n in self.stretches) / total

    def scaled(self, by: float) -> StepsModel:
        """Every stretch's noise scale multiplied by ``by`` (an end of the noise scale's interval)."""
        return StepsModel(tuple((w, n * by) for w, n in self.stretches), self.base_batch)


def steps_model(noise_scale: float, stretches: Sequence[tuple[float, float]], base_batch: int,
                prediction: str = "window") -> StepsModel:
    """The model ``prediction`` names: the window form (one noise scale), or the trajectory form over
    ``stretches`` (the window form when there are none)."""
    if prediction == "trajectory" and stretches:
        return StepsModel(tuple(tuple(s) for s in stretches), base_batch)
    return StepsModel.window(noise_scale, base_batch)


def _model(noise: float | StepsModel) -> StepsModel:
    return noise if isinstance(noise, StepsModel) else StepsModel.window(noise)


def relative_time(noise: float | StepsModel, batch_size: int, step_time: float) -> float:
    """``S(B)/S(B0) · t(B)``: the time to the goal up to the constant ``S(B0)``."""
    return _model(noise).factor(batch_size) * step_time


def best_batch(noise: float | StepsModel, step_times: dict[int, float]) -> int:
    """The size with the least predicted time to the goal (the smaller one on a tie)."""
    return min(sorted(step_times), key=lambda b: relative_time(noise, b, step_times[b]))


def larger_sizes_cannot_help(noise: float | StepsModel, step_times: dict[int, float]) -> bool:
    """True when no size above the largest measured one can reach the goal sooner.

    A step never gets faster as the batch grows and no batch needs fewer steps than the model's floor,
    so any larger ``B'`` takes at least ``floor · t(B_max)``: once that alone is no less than the best
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
    model = _model(noise)
    best = min(relative_time(model, b, t) for b, t in step_times.items())
    return model.floor() * step_times[max(step_times)] >= best


def predict(noise_scale: float, interval: tuple[float, float], step_times: dict[int, float], *,
            base_batch: int, base_lr: float, baseline_batch: int, stretches: Sequence[tuple[float, float]] = (),
            prediction: str = "window", rule: str = "noise", tolerance: float = 0.0) -> dict[str, Any]:
    """Choose a size from measured step times and a noise scale; the whole predicted curve with it.

    ``prediction`` is ``"window"`` (one noise scale, read near the goal) or ``"trajectory"`` (the base
    run's ``stretches``); every row carries both factors. Returns ``batch_size``, ``batch_size_interval``
    (the sizes predicted within ``tolerance`` of the least time under the measured noise scale or either
    end of its interval; with no tolerance, the choices at the two ends), ``learning_rate`` (``rule`` from ``base_lr``
    at ``base_batch``), ``predicted_speedup`` over ``baseline_batch`` and ``candidates``.
    """
    if not step_times:
        raise KerasbatchError("no candidate batch size could be measured")
    window = steps_model(noise_scale, stretches, base_batch, "window")
    trajectory = steps_model(noise_scale, stretches, base_batch, "trajectory")
    model = trajectory if prediction == "trajectory" else window
    chosen = best_batch(model, step_times)
    near = set()
    for n in (interval[0], noise_scale, interval[1]):
        scaled = model.scaled(n / noise_scale)
        times = {b: relative_time(scaled, b, t) for b, t in step_times.items()}
        least = min(times.values())
        near |= {b for b, t in times.items() if t <= (1.0 + tolerance) * least}  # the least among them
    baseline_time = relative_time(model, baseline_batch, step_time_at(step_times, baseline_batch))
    best_time = relative_time(model, chosen, step_times[chosen])
    rate = RULES[rule]
    rows = []
    for b in sorted(step_times):
        t = relative_time(model, b, step_times[b])
        rows.append({"batch_size": b, "step_time": step_times[b], "samples_per_second": b / step_times[b],
                     "steps_factor": model.factor(b), "steps_factor_window": window.factor(b),
                     "steps_factor_trajectory": trajectory.factor(b), "relative_time": t / best_time,
                     "speedup": baseline_time / t, "learning_rate": base_lr * rate(noise_scale, base_batch, b),
                     "suggested": b == chosen})
    return {"batch_size": chosen, "batch_size_interval": (min(near), max(near)),
            "learning_rate": base_lr * rate(noise_scale, base_batch, chosen),
            "predicted_speedup": baseline_time / best_time, "candidates": rows}


def candidate_sizes(largest: int, baseline: int) -> list[int]:
    """Multiples of 8 doubling from 8 up to ``largest``, with ``largest`` and the baseline."""
    sizes = {8 * 2**i for i in range(32) if 8 * 2**i <= largest} | {largest, baseline}
    return sorted(b for b in sizes if b <= largest)
