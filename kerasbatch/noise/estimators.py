"""Gradient noise scale: how large a batch can get before it stops paying off (the math; no model).

McCandlish et al. (2018, "An Empirical Model of Large-Batch Training", App. A) define the simple noise
scale ``B_simple = tr(Sigma) / |G|^2``, where ``G`` is the true gradient and ``Sigma`` the covariance of
a single example's gradient. Neither is observable, but the squared norms of two gradient estimates taken
at the same weights, at batch sizes ``b_small < b_big``, give unbiased estimates of both::

    |G|^2     ~ (b_big |g_big|^2 - b_small |g_small|^2) / (b_big - b_small)
    tr(Sigma) ~ (|g_small|^2 - |g_big|^2) / (1/b_small - 1/b_big)

One training batch of size ``B`` supplies both: split it into ``k`` micro-batches, take the mean of their
squared gradient norms as ``|g_small|^2`` (``b_small = B/k``) and the squared norm of their mean as
``|g_big|^2`` (``b_big = B``). Each estimate is noisy and ``|G|^2`` can come out negative, so numerator
and denominator are averaged separately over many batches and divided last (:class:`NoiseAccumulator`).
Batches drawn without replacement from ``N`` training examples (an epoch) vary less than that; the
``population`` argument corrects for it (:func:`two_batch_estimates`).

This module holds the estimators and the scaling-law helpers (:func:`steps_to_target`,
:func:`examples_to_target`, :func:`statistical_efficiency`, :func:`fit_steps_curve`). They need only
numpy, so it imports without TensorFlow. Taking the squared norms from a model is
:mod:`kerasbatch.noise.probe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np



def two_batch_estimates(small_sq_norm: float, big_sq_norm: float, b_small: float, b_big: float,
                        population: int | None = None) -> tuple[float, float]:
    """Unbiased ``(|G|^2, tr(Sigma))`` from squared gradient norms at batch sizes ``b_small < b_big``.

    With ``population=None`` the batches are i.i.d. draws (sampling with replacement), so
    ``E|g_b|^2 = |G|^2 + tr(Sigma)/b`` and the module's two formulas follow. A batch drawn without
    replacement from ``N = population`` examples (an epoch's batches, or the micro-batches of one such
    batch) has ``E|g_b|^2 = |G|^2 + tr(Sigma) c(b)`` with ``c(b) = (1/b - 1/N) N/(N-1)``, where ``G`` is
    the mean of the ``N`` per-example gradients and ``tr(Sigma)`` their variance (divisor ``N``). Solving
    the two equations::

        tr(Sigma) = (|g_small|^2 - |g_big|^2) / (1/b_small - 1/b_big) * (N-1)/N
        |G|^2     = ((1/b_small - 1/N) |g_big|^2 - (1/b_big - 1/N) |g_small|^2) / (1/b_small - 1/b_big)
                  = |G|^2 (i.i.d. formula) + tr(Sigma)/(N-1)

    Without the correction ``|G|^2`` comes out low by ``tr(Sigma)/(N-1)``: the noise scale is then
    overestimated by a factor of about ``1/(1 - B_simple/N)``, large when ``B_simple`` nears ``N``.

    Raises ValueError unless ``0 < b_small < b_big <= population``.
    """
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got b_small={b_small}, b_big={b_big}")
    if population is not None and not population >= b_big:
        raise ValueError(f"population must be at least b_big={b_big}, got {population}")
    grad_sq = (b_big * big_sq_norm - b_small * small_sq_norm) / (b_big - b_small)
    trace_sigma = (small_sq_norm - big_sq_norm) / (1.0 / b_small - 1.0 / b_big)
    if population is not None:
        trace_sigma *= (population - 1.0) / population
        grad_sq += trace_sigma / (population - 1.0)
    return float(grad_sq), float(trace_sigma)


def expected_sq_norm(grad_sq: float, trace_sigma: float, batch: float, population: int | None = None) -> float:
    """``E|g_b|^2 = |G|^2 + c(b) tr(Sigma)``: the mean squared norm of a batch-``b`` gradient, with
    ``c(b) = 1/b`` for i.i.d. batches and ``(1/b - 1/N) N/(N-1)`` without replacement from ``N``."""
    if population is None:
        return grad_sq + trace_sigma / batch
    return grad_sq + trace_sigma * (1.0 / batch - 1.0 / population) * population / (population - 1.0)


def _ratio(trace_sigma: float, grad_sq: float) -> float:
    # A non-positive |G|^2 estimate means the noise swamped the signal: there is no meaningful ratio.
    return trace_sigma / grad_sq if math.isfinite(grad_sq) and grad_sq > 0 else math.nan


@dataclass(frozen=True)
class NoiseEstimate:
    """Averaged noise statistics at one set of weights; ``samples`` is how many batches were averaged."""

    grad_sq: float
    trace_sigma: float
    batch_size: int
    micro_batches: int
    samples: int

    @property
    def gns(self) -> float:
        """``B_simple = trace_sigma / grad_sq``; NaN when ``grad_sq`` is not a positive number."""
        return _ratio(self.trace_sigma, self.grad_sq)


class NoiseAccumulator:
    """Averages ``|G|^2`` and ``tr(Sigma)`` estimates separately; ``gns`` divides the averages.

    ``ema`` is the decay of an exponential moving average, bias-corrected like Adam (equivalent to
    dividing by ``1 - ema**count``) so early values are not pulled toward zero; ``ema=None`` is a plain
    running mean. Updates with a NaN or infinite value are ignored and not counted.
    """

    def __init__(self, ema: float | None = 0.9):
        if ema is not None and not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1) or None, got {ema!r}")
        self.ema = ema
        self._grad_sq = self._trace_sigma = self._weight = 0.0
        self._count = 0

    def update(self, grad_sq: float, trace_sigma: float) -> None:
        """Add one pair of estimates (e.g. from :func:`two_batch_estimates`)."""
        if not (math.isfinite(grad_sq) and math.isfinite(trace_sigma)):
            return
        # Decayed sums over a decayed weight: the bias-corrected EMA, exact at the first update.
        decay = 1.0 if self.ema is None else self.ema
        self._grad_sq = decay * self._grad_sq + grad_sq
        self._trace_sigma = decay * self._trace_sigma + trace_sigma
        self._weight = decay * self._weight + 1.0
        self._count += 1

    @property
    def count(self) -> int:
        """Updates accepted so far."""
        return self._count

    @property
    def grad_sq(self) -> float:
        return self._grad_sq / self._weight if self._count else math.nan

    @property
    def trace_sigma(self) -> float:
        return self._trace_sigma / self._weight if self._count else math.nan

    @property
    def gns(self) -> float:
        return _ratio(self.trace_sigma, self.grad_sq)


def _floats(*values):
    return [np.asarray(v, dtype=float) for v in values]


def _result(value):
    return float(value) if value.ndim == 0 else value


def steps_to_target(batch, s_min, b_noise):
    """Predicted optimizer steps to reach a target at batch ``batch``: ``S_min (1 + B_noise / B)``."""
    batch, s_min, b_noise = _floats(batch, s_min, b_noise)
    return _result(s_min * (1.0 + b_noise / batch))


def examples_to_target(batch, e_min, b_noise):
    """Predicted training examples to reach a target at batch ``batch``: ``E_min (1 + B / B_noise)``."""
    batch, e_min, b_noise = _floats(batch, e_min, b_noise)
    return _result(e_min * (1.0 + batch / b_noise))


def statistical_efficiency(batch, base_batch, b_noise):
    """Progress per example at ``batch`` relative to ``base_batch``: ``(B_noise + B0) / (B_noise + B)``.

    Multiply by throughput to get goodput (Qiao et al. 2021).
    """
    batch, base_batch, b_noise = _floats(batch, base_batch, b_noise)
    return _result((b_noise + base_batch) / (b_noise + batch))


def fit_steps_curve(batch_sizes, steps) -> tuple[float, float]:
    """Least-squares ``(S_min, B_noise)`` of ``S(B) = S_min (1 + B_noise / B)`` to measured steps.

    The model is linear in ``1/B``: ``S = S_min + S_min B_noise / B``. Returns NaNs when fewer than two
    finite points at distinct batch sizes remain, or when the fit has a non-positive ``S_min`` or
    ``B_noise`` (the data do not follow the model).
    """
    b, s = (values.ravel() for values in _floats(batch_sizes, steps))
    ok = np.isfinite(b) & np.isfinite(s) & (b > 0)
    if np.unique(b[ok]).size < 2:
        return math.nan, math.nan
    slope, intercept = np.polyfit(1.0 / b[ok], s[ok], 1)
    if intercept <= 0 or slope <= 0:
        return math.nan, math.nan
    return float(intercept), float(slope / intercept)
