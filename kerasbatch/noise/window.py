"""The noise scale over a stretch of training: a ratio of two noisy means with its standard error.

``B_noise = tr(Σ) / |G|²``: numerator and denominator are averaged apart over the estimates of a window
and divided last (McCandlish et al. 2018, App. A), with a delta-method standard error. Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def noise_in_window(estimates: Sequence[tuple[int, float, float]], accuracy: dict[int, float],
                    target: float | None) -> tuple[float, float, tuple[int, int]]:
    """``(B_noise, relative standard error, window)`` from raw ``(epoch, |G|², tr(Σ))`` estimates.

    The window is where the target is approached: the second half of the epochs up to the one whose
    validation ``accuracy`` first reached ``target`` (up to the last epoch when it was never reached).
    Numerator and denominator are averaged apart and divided last; the error is the delta method's.
    """
    if not estimates:
        return math.nan, math.inf, (0, 0)
    reached = next((e for e in sorted(accuracy) if target is not None and accuracy[e] >= target), None)
    last = reached if reached is not None else max(e for e, _, _ in estimates)
    first = max(1, math.ceil(last / 2))
    chosen = [(g, s) for e, g, s in estimates if first <= e <= last]
    g, s = (np.asarray(v, dtype=float) for v in zip(*chosen)) if chosen else (np.empty(0), np.empty(0))
    return (*ratio_with_error(s, g), (first, last))

def trajectory(estimates: Sequence[tuple[int, float, float]]) -> list[float]:
    """The noise scale of each epoch (its estimates' mean ``tr(Σ)`` over mean ``|G|²``)."""
    epochs = sorted({e for e, _, _ in estimates})
    out = []
    for epoch in epochs:
        g = np.mean([g for e, g, _ in estimates if e == epoch])
        s = np.mean([s for e, _, s in estimates if e == epoch])
        out.append(float(s / g) if g > 0 else math.nan)
    return out

def ratio_with_error(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """``mean(numerator) / mean(denominator)`` and its relative standard error (delta method)."""
    n = len(numerator)
    if n == 0:
        return math.nan, math.inf
    mean_s, mean_g = float(np.mean(numerator)), float(np.mean(denominator))
    if not mean_g > 0 or not mean_s > 0:
        return math.nan, math.inf
    ratio = mean_s / mean_g
    if n < 2:
        return ratio, math.inf
    cov = np.cov(numerator, denominator, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mean_g**2)
    return ratio, math.sqrt(max(variance, 0.0)) / ratio
