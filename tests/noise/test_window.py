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
