"""The noise-scale rule for the learning rate."""

import pytest

from kerasbatch.config.run import OptimConfig


def test_noise_scale_rule_is_linear_below_the_noise_scale_and_flat_above():
    optim = OptimConfig(learning_rate=0.1, lr_scaling="noise", noise_scale=1000.0, base_batch=32)
    # Far below B_noise = 1000 the rule doubles the rate with the batch, like the linear rule …
    assert optim.scaled_learning_rate(64) / optim.scaled_learning_rate(32) == pytest.approx(2.0, rel=0.04)
    # … and far above it the rate stops growing: ε_max = 0.1 * (1 + 1000/32).
    assert optim.scaled_learning_rate(10**7) == pytest.approx(0.1 * (1 + 1000 / 32), rel=1e-3)
    # Around B_noise it grows by less than the batch: ×1.33 for 1024 → 2048.
    assert optim.scaled_learning_rate(2048) / optim.scaled_learning_rate(1024) == pytest.approx(1.328, abs=1e-3)
    assert optim.scaled_learning_rate(32) == pytest.approx(0.1)
