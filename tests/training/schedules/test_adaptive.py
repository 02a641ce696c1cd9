"""The adaptive policy, on synthetic step times and noise scales."""

import pytest

from kerasbatch.training.schedules.adaptive import AdaptivePolicy, goodput


def linear_step_time(fixed=0.010, per_example=0.0001):
    return lambda b: fixed + per_example * b


def test_adaptive_choice_is_the_best_goodput_among_its_candidates():
    policy, step_time = AdaptivePolicy(max_batch=4096, min_gain=1.0), linear_step_time()
    for current, noise in [(32, 50.0), (128, 300.0), (512, 5000.0), (256, 40.0)]:
        chosen = policy.choose(current, noise, step_time, base_batch=32).batch_size
        scores = {b: goodput(b / step_time(b), noise, b, 32) for b in policy.candidates(current)}
        assert scores[chosen] == pytest.approx(max(scores.values()))


def test_the_batch_at_most_doubles_or_halves_and_stays_a_multiple_of_eight_under_the_cap():
    policy = AdaptivePolicy(max_batch=100)
    assert policy.candidates(32) == [16, 24, 32, 40, 48, 56, 64]
    assert max(policy.candidates(64)) == 96  # the cap, rounded down to a multiple of 8
    # Unlimited, goodput would pick the largest size at a huge noise scale: a switch takes it to 2x only.
    big = AdaptivePolicy(max_batch=4096).choose(32, 1e6, linear_step_time(), base_batch=32)
    assert big.batch_size == 64 and big.gain > 1.5


def test_a_gain_below_the_threshold_keeps_the_batch():
    step_time = linear_step_time()
    gain = AdaptivePolicy(max_batch=4096, min_gain=1.0).choose(64, 130.0, step_time, base_batch=32).gain
    assert 1.0 < gain < 1.3
    stay = AdaptivePolicy(max_batch=4096, min_gain=1.3).choose(64, 130.0, step_time, base_batch=32)
    assert stay.batch_size == 64 and stay.gain == pytest.approx(gain) and "below" in stay.reason
    move = AdaptivePolicy(max_batch=4096, min_gain=gain * 0.99).choose(64, 130.0, step_time, base_batch=32)
    assert move.batch_size != 64


def test_a_small_noise_scale_shrinks_the_batch_and_no_noise_scale_keeps_it():
    # Step time proportional to the batch: throughput is flat, so only efficiency counts.
    shrink = AdaptivePolicy(max_batch=4096).choose(256, 4.0, lambda b: 0.001 * b, base_batch=32)
    assert shrink.batch_size == 128
    for missing in (float("nan"), 0.0, None):
        assert AdaptivePolicy(max_batch=4096).choose(64, missing, linear_step_time(), base_batch=32).batch_size == 64
