"""The learning-rate rules (the noise-scale rule, the Adam one) for every command that trains."""

import math

import pytest

from kerasbatch.cli.app import build_config
from kerasbatch.config.run import OptimConfig
from kerasbatch.config.scaling import adam_rule, noise_rule, scale_factor
from kerasbatch.errors import ConfigError


def test_the_adam_rule_rises_as_the_root_of_the_batch_peaks_at_the_noise_scale_and_falls_beyond():
    b_noise = 1000.0
    # Far below the noise scale it is the square-root rule; at B = B_noise the best rate peaks.
    assert adam_rule(b_noise, 8, 32) == pytest.approx(math.sqrt(4), rel=0.05)
    sizes = [2**k for k in range(3, 16)]
    factors = [adam_rule(b_noise, 32, b) for b in sizes]
    peak = sizes[factors.index(max(factors))]
    assert peak in (512, 1024) and adam_rule(b_noise, 32, 1000) >= max(factors)
    assert adam_rule(b_noise, 32, 1000 * 4) == pytest.approx(adam_rule(b_noise, 32, 1000 / 4))  # symmetric in log B
    assert adam_rule(b_noise, 64, 64) == 1.0
    # The SGD rule only grows, to its plateau.
    assert noise_rule(b_noise, 32, 10**6) > noise_rule(b_noise, 32, 10**5) > noise_rule(b_noise, 32, 1000)


def test_every_rule_through_the_optimizer_config():
    rates = {rule: OptimConfig(lr_scaling=rule, learning_rate=0.01, noise_scale=128.0).scaled_learning_rate(128)
             for rule in ("none", "linear", "sqrt", "noise", "adam")}
    assert rates == pytest.approx({"none": 0.01, "linear": 0.04, "sqrt": 0.02, "noise": 0.025, "adam": 0.0125})
    assert scale_factor("adam", 32, 128, 128.0) == pytest.approx(1.25)
    with pytest.raises(ConfigError, match="adam needs a noise_scale"):
        OptimConfig(lr_scaling="adam")


@pytest.mark.parametrize("command", ["train", "sweep", "tune"])
def test_lr_scaling_adam_is_a_choice_of_every_command_that_trains(command):
    config = build_config(command, ["--lr-scaling", "adam", "--noise-scale", "256", "--optimizer", "adam"])
    run = getattr(config, "run", config)
    assert run.optim.lr_scaling == "adam" and run.optim.noise_scale == 256.0
    if command == "train":
        assert run.learning_rate == pytest.approx(0.01 * adam_rule(256.0, 32, 32))


def test_noise_scale_rule_is_linear_below_the_noise_scale_and_flat_above():
    optim = OptimConfig(learning_rate=0.1, lr_scaling="noise", noise_scale=1000.0, base_batch=32)
    # Far below B_noise = 1000 the rule doubles the rate with the batch, like the linear rule …
    assert optim.scaled_learning_rate(64) / optim.scaled_learning_rate(32) == pytest.approx(2.0, rel=0.04)
    # … and far above it the rate stops growing: ε_max = 0.1 * (1 + 1000/32).
    assert optim.scaled_learning_rate(10**7) == pytest.approx(0.1 * (1 + 1000 / 32), rel=1e-3)
    # Around B_noise it grows by less than the batch: ×1.33 for 1024 → 2048.
    assert optim.scaled_learning_rate(2048) / optim.scaled_learning_rate(1024) == pytest.approx(1.328, abs=1e-3)
    assert optim.scaled_learning_rate(32) == pytest.approx(0.1)
