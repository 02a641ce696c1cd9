"""The noise scale over a window of training, and its error bar."""

import math

import numpy as np
import pytest

from kerasbatch.noise.window import noise_in_window, ratio_with_error, trajectory


def test_ratio_with_error_matches_the_spread_over_repeats():
    rng = np.random.default_rng(0)
    ratios, errors = [], []
    for _ in range(400):
        g = rng.normal(1.0, 0.3, size=12)
        s = 50.0 * g + rng.normal(0.0, 10.0, size=12)
        ratio, relative = ratio_with_error(s, g)
        ratios.append(ratio)
        errors.append(relative * ratio)
    assert np.mean(ratios) == pytest.approx(50.0, rel=0.02)
    # The delta method's standard error agrees with the ratios' real spread within 20 %.
    assert np.mean(errors) == pytest.approx(np.std(ratios), rel=0.2)


def test_noise_is_read_where_the_target_is_approached():
    # Two estimates an epoch; tr(Σ)/|G|² = 10 × epoch; accuracy 0.1 × epoch.
    estimates = [(e, g, 10.0 * e * g) for e in range(1, 11) for g in (0.8, 1.2)]
    accuracy = {e: 0.1 * e for e in range(1, 11)}
    value, relative, window = noise_in_window(estimates, accuracy, target=0.6)
    # The target is reached at epoch 6; the window is epochs 3..6, where the ratio runs 30..60.
    assert window == (3, 6) and value == pytest.approx(45.0)
    assert 0 < relative < 0.2
    value, _, window = noise_in_window(estimates, accuracy, target=None)
    assert window == (5, 10) and value == pytest.approx(75.0)
    assert math.isnan(noise_in_window([], accuracy, 0.9)[0])
    assert trajectory(estimates) == pytest.approx([10.0 * e for e in range(1, 11)])


def test_the_goal_is_the_target_or_where_the_run_levelled_off():
    from kerasbatch.noise.window import goal_epoch

    rising = {1: 0.5, 2: 0.7, 3: 0.8, 4: 0.9, 5: 0.92}
    assert goal_epoch(rising, 0.9) == (4, True)
    # Never reached: the first epoch within half a point of the best (0.935 at epoch 7), not the best itself.
    plateau = {**rising, 6: 0.932, 7: 0.935, 8: 0.931, 9: 0.934}
    assert goal_epoch(plateau, 0.95) == (6, False)
    assert goal_epoch(plateau, None) == (6, False)
    assert goal_epoch({}, 0.9) == (None, False)
    # Estimates beyond the goal are left out of the window.
    estimates = [(e, 1.0, 10.0 * e) for e in range(1, 10)]
    assert noise_in_window(estimates, plateau, 0.95)[2] == (3, 6)


def test_stretches_follow_a_growing_noise_scale_and_pool_what_is_noise():
    from kerasbatch.noise.window import stretches

    # tr(Σ)/|G|² = 10 × epoch, two estimates an epoch; four stretches of two epochs up to epoch 8.
    estimates = [(e, g, 10.0 * e * g) for e in range(1, 11) for g in (0.8, 1.2)]
    assert stretches(estimates, 8, pieces=4) == pytest.approx([(2.0, 15.0), (2.0, 35.0), (2.0, 55.0), (2.0, 75.0)])
    # A stretch whose |G|² does not average above zero joins the next: epoch 1 alone (-1), then with
    # epoch 2 (mean 0), then with epoch 3: mean |G|² 1/3, mean tr(Σ) 4, one stretch of three epochs.
    noisy = [(1, -1.0, 1.0), (2, 1.0, 5.0), (3, 1.0, 6.0), (4, 1.0, 8.0)]
    assert stretches(noisy, 4, pieces=4) == pytest.approx([(3.0, 12.0), (1.0, 8.0)])
    assert stretches([(1, -1.0, 1.0)], 1) == []


def test_a_stretch_weighs_the_epochs_it_covers_however_many_estimates_fell_in_them():
    from kerasbatch.noise.window import stretches

    # Epoch 1 with 4 estimates at 10, epoch 2 with 12 more (taken at the final weights) at 30.
    estimates = [(1, 1.0, 10.0)] * 4 + [(2, 1.0, 30.0)] * 12
    got = stretches(estimates, 2, pieces=4)
    assert sum(w for w, _ in got) == pytest.approx(2.0)
    assert got[0] == pytest.approx((1.0, 10.0)) and all(n == pytest.approx(30.0) for _, n in got[1:])
