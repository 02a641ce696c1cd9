"""The gradient noise scale's arithmetic on hand-computed numbers, TensorFlow-free."""

import math

import numpy as np
import pytest

from kerasbatch.noise import estimators as noise


# --- pure math ---------------------------------------------------------------------------------------

def test_two_batch_estimates_recover_hand_computed_values():
    # With |G|^2 = 1 and tr(Sigma) = 16: E|g_b|^2 = 1 + 16/b, so 5 at b=4 and 2 at b=16.
    grad_sq, trace_sigma = noise.two_batch_estimates(5.0, 2.0, 4, 16)
    assert grad_sq == pytest.approx(1.0)
    assert trace_sigma == pytest.approx(16.0)


@pytest.mark.parametrize("b_small, b_big", [(16, 16), (32, 16), (0, 16)])
def test_two_batch_estimates_reject_b_small_not_below_b_big(b_small, b_big):
    with pytest.raises(ValueError):
        noise.two_batch_estimates(5.0, 2.0, b_small, b_big)


def test_accumulator_ema_is_bias_corrected_and_exact_at_first_update():
    acc = noise.NoiseAccumulator(ema=0.9)
    acc.update(0.3, 7.1)
    assert (acc.grad_sq, acc.trace_sigma, acc.count) == (0.3, 7.1, 1)
    acc.update(0.5, 2.0)
    # Adam-style: m = 0.9 m + 0.1 x, divided by 1 - 0.9**count.
    adam = (0.9 * 0.1 * 0.3 + 0.1 * 0.5) / (1 - 0.9**2)
    assert acc.grad_sq == pytest.approx(adam)
    assert acc.gns == pytest.approx(acc.trace_sigma / acc.grad_sq)


def test_accumulator_ignores_non_finite_updates():
    acc = noise.NoiseAccumulator(ema=None)
    acc.update(float("nan"), 1.0)
    acc.update(1.0, float("inf"))
    assert acc.count == 0 and math.isnan(acc.gns)
    acc.update(1.0, 10.0)
    acc.update(3.0, 30.0)
    assert (acc.count, acc.grad_sq, acc.trace_sigma, acc.gns) == (2, 2.0, 20.0, 10.0)


def test_noise_estimate_gns_is_nan_without_positive_signal():
    assert noise.NoiseEstimate(0.5, 10.0, 64, 4, 3).gns == 20.0
    assert math.isnan(noise.NoiseEstimate(-0.1, 10.0, 64, 4, 3).gns)
    assert math.isnan(noise.NoiseEstimate(float("inf"), 10.0, 64, 4, 3).gns)


def test_fit_steps_curve_recovers_synthetic_parameters():
    batch = np.array([32, 64, 128, 256, 512, 1024])
    steps = noise.steps_to_target(batch, 1500.0, 300.0)
    s_min, b_noise = noise.fit_steps_curve(batch, steps)
    assert s_min == pytest.approx(1500.0, rel=1e-9)
    assert b_noise == pytest.approx(300.0, rel=1e-9)
    assert all(map(math.isnan, noise.fit_steps_curve([32, 64], [100.0, float("nan")])))
    assert all(map(math.isnan, noise.fit_steps_curve([32, 64], [50.0, 100.0])))  # steps grow with B


def test_theory_helpers_follow_the_formulas_on_arrays():
    batch = np.array([100.0, 400.0])
    np.testing.assert_allclose(noise.steps_to_target(batch, 10.0, 200.0), [30.0, 15.0])
    np.testing.assert_allclose(noise.examples_to_target(batch, 1000.0, 200.0), [1500.0, 3000.0])
    np.testing.assert_allclose(noise.statistical_efficiency(batch, 100, 200.0), [1.0, 0.5])
    assert isinstance(noise.statistical_efficiency(100, 100, 50.0), float)


# --- sampling without replacement ---------------------------------------------------------------------

def _mean_sq_norm_over_subsets(grads, size):
    """Exact E|g_b|^2 for a batch of ``size`` drawn without replacement: the mean over every subset."""
    import itertools

    return np.mean([(grads[list(s)].mean(axis=0) ** 2).sum() for s in itertools.combinations(range(len(grads)), size)])


def test_population_correction_is_exact_for_batches_drawn_without_replacement():
    rng = np.random.default_rng(7)
    n, b_small, b_big = 12, 3, 6
    # |G|^2 = 1 and tr(Sigma) = 12 = N: the i.i.d. formula's bias tr(Sigma)/(N-1) is as large as |G|^2.
    spread_out = rng.normal(size=(n, 5))
    spread_out -= spread_out.mean(axis=0)
    spread_out *= math.sqrt(n / (spread_out**2).sum(axis=1).mean())
    grads = spread_out + np.array([1.0, 0, 0, 0, 0])
    true_grad_sq, true_trace = 1.0, ((grads - grads.mean(axis=0)) ** 2).sum(axis=1).mean()
    assert true_trace == pytest.approx(12.0)
    small, big = (_mean_sq_norm_over_subsets(grads, b) for b in (b_small, b_big))

    grad_sq, trace_sigma = noise.two_batch_estimates(small, big, b_small, b_big, population=n)
    assert (grad_sq, trace_sigma) == (pytest.approx(true_grad_sq), pytest.approx(true_trace))
    assert noise.expected_sq_norm(grad_sq, trace_sigma, b_big, population=n) == pytest.approx(big)
    iid_grad_sq, iid_trace = noise.two_batch_estimates(small, big, b_small, b_big)
    assert iid_grad_sq == pytest.approx(true_grad_sq - true_trace / (n - 1))  # ~0: the signal is lost
    assert iid_trace == pytest.approx(true_trace * n / (n - 1))
    # The whole population as the big batch is the true gradient itself.
    assert noise.two_batch_estimates(small, true_grad_sq, b_small, n, population=n)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="population"):
        noise.two_batch_estimates(small, big, b_small, b_big, population=b_big - 1)
