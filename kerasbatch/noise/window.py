"""The noise scale over a stretch of training: a ratio of two noisy means with its standard error.

``B_noise = tr(Σ) / |G|²``: numerator and denominator are averaged apart over the estimates of a window
and divided last (McCandlish et al. 2018, App. A), with a delta-method standard error. Numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def goal_epoch(accuracy: dict[int, float], target: float | None, tolerance: float = 0.005
               ) -> tuple[int | None, bool]:
    """``(epoch, reached)``: the first epoch whose validation ``accuracy`` reached ``target``, or, when
    none did, the first within ``tolerance`` of the best accuracy the run reached (the steps after it
    bought less than that); ``(None, False)`` without any accuracy."""
    reached = next((e for e in sorted(accuracy) if target is not None and accuracy[e] >= target), None)
    if reached is not None:
        return reached, True
    if not accuracy:
        return None, False
    best = max(accuracy.values())
    return min(e for e, a in accuracy.items() if a >= best - tolerance), False


def noise_in_window(estimates: Sequence[tuple[int, float, float]], accuracy: dict[int, float],
                    target: float | None) -> tuple[float, float, tuple[int, int]]:
    """``(B_noise, relative standard error, window)`` from raw ``(epoch, |G|², tr(Σ))`` estimates.

    The window is where the goal is approached: the second half of the epochs up to the one whose
    validation ``accuracy`` first reached ``target``; when it was never reached, up to the first epoch
    at the best accuracy (:func:`goal_epoch`; the last epoch without accuracies).
    Numerator and denominator are averaged apart and divided last; the error is the delta method's.
    """
    if not estimates:
        return math.nan, math.inf, (0, 0)
    last = goal_epoch(accuracy, target)[0] or max(e for e, _, _ in estimates)
    first = max(1, math.ceil(last / 2))
    chosen = [(g, s) for e, g, s in estimates if first <= e <= last]
    g, s = (np.asarray(v, dtype=float) for v in zip(*chosen)) if chosen else (np.empty(0), np.empty(0))
    return (*ratio_with_error(s, g), (first, last))

def stretches(estimates: Sequence[tuple[int, float, float]], last: int, pieces: int = 8
              ) -> list[tuple[float, float]]:
    """``(epochs, B_noise)`` over up to ``pieces`` stretches of epochs ``1..last``, in order.

    The estimates are pooled into stretches of about equal numbers of estimates, each its ratio of means;
    each epoch counts as one, shared among its estimates, so a stretch's weight is the epochs it
    covers (estimates taken at the final weights do not outweigh the run). A stretch whose ``|G|²``
    mean is not positive (its estimates are noise) joins the next, the last the one before it. Empty
    when no stretch has a positive ratio.
    """
    kept = sorted((e, g, s) for e, g, s in estimates if e <= last)
    if not kept:
        return []
    per_epoch: dict[int, int] = {}
    for e, _, _ in kept:
        per_epoch[e] = per_epoch.get(e, 0) + 1
    size = max(1, math.ceil(len(kept) / pieces))
    groups = [kept[i:i + size] for i in range(0, len(kept), size)]
    merged: list[list] = []
    for group in groups:
        if merged and not _positive(merged[-1]):
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    if len(merged) > 1 and not _positive(merged[-1]):
        merged[-2:] = [merged[-2] + merged[-1]]
    if not _positive(merged[-1]):
        return []
    out = []
    for group in merged:
        g, s = np.mean([x[1] for x in group]), np.mean([x[2] for x in group])
        out.append((float(sum(1.0 / per_epoch[x[0]] for x in group)), float(s / g)))
    return out


def _positive(group) -> bool:
    return np.mean([x[1] for x in group]) > 0 and np.mean([x[2] for x in group]) > 0


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
