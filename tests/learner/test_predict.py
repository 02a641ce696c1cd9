"""The learner's arithmetic on synthetic curves with a known optimum."""

import pytest

from kerasbatch.learner.predict import best_batch, candidate_sizes, larger_sizes_cannot_help, predict


# Step time = overhead + per-example cost; with B_noise = 400 the time to target
# (1 + 400/B)(a + cB) is least at B* = sqrt(400 a / c) = 400.
A, C, B_NOISE = 0.004, 1e-5, 400.0


def step_times(sizes):
    return {b: A + C * b for b in sizes}


def test_the_suggestion_is_the_known_optimum_when_it_is_a_candidate():
    assert best_batch(B_NOISE, step_times([8, 32, 128, 200, 400, 800, 1600])) == 400


def test_among_doubling_candidates_the_nearest_in_time_wins_and_the_curve_is_reported():
    got = predict(B_NOISE, (300.0, 530.0), step_times(candidate_sizes(2048, 32)), base_batch=32, base_lr=0.1,
                  baseline_batch=32)
    # T(256) = 2.5625 × 6.56 ms = 16.8 ms; T(512) = 1.78125 × 9.12 ms = 16.2 ms: 512 is the faster.
    assert got["batch_size"] == 512
    assert got["batch_size_interval"] == (256, 512)
    baseline = (1 + 400 / 32) * (A + 32 * C)
    assert got["predicted_speedup"] == pytest.approx(baseline / ((1 + 400 / 512) * (A + 512 * C)))
    assert got["learning_rate"] == pytest.approx(0.1 * (1 + 400 / 32) / (1 + 400 / 512))
    rows = {r["batch_size"]: r for r in got["candidates"]}
    assert sorted(rows) == [8, 16, 32, 64, 128, 256, 512, 1024, 2048]
    assert rows[512]["relative_time"] == pytest.approx(1.0) and rows[512]["suggested"]
    assert min(r["relative_time"] for r in rows.values()) == pytest.approx(1.0)
    assert rows[32]["speedup"] == pytest.approx(1.0)


@pytest.mark.parametrize("noise_scale", [5.0, 60.0, 400.0, 3000.0])
def test_a_scan_that_stops_once_larger_sizes_cannot_help_keeps_the_optimum(noise_scale):
    every = step_times(candidate_sizes(16384, 32))
    scanned = {}
    for b in sorted(every):
        scanned[b] = every[b]
        if larger_sizes_cannot_help(noise_scale, scanned):
            break
    assert max(scanned) < 16384  # the scan saved the largest sizes' cost ...
    assert best_batch(noise_scale, scanned) == best_batch(noise_scale, every)  # ... and lost nothing


def test_larger_sizes_can_help_while_a_step_is_still_cheap():
    # Step time flat up to 256 (an idle accelerator): with B_noise = 400, 512 may still win.
    flat = {32: 1.0, 64: 1.0, 128: 1.0, 256: 1.0}
    assert not larger_sizes_cannot_help(400.0, flat)
    assert larger_sizes_cannot_help(400.0, {**flat, 512: 1.0 * (1 + 400 / 256)})


def test_a_tiny_noise_scale_favours_the_fastest_step_and_a_huge_one_the_largest_throughput():
    times = step_times([8, 64, 512, 4096])
    assert best_batch(1e-3, times) == 8  # every step is as good as any: take the quickest
    assert best_batch(1e9, times) == 4096  # every example counts: take the most samples per second


def test_the_trajectory_form_weights_each_stretch_by_its_own_noise_scale():
    from kerasbatch.learner.predict import StepsModel

    window = StepsModel.window(400.0, 32)
    assert window.factor(32) == pytest.approx(1.0)
    assert window.factor(512) == pytest.approx((1 + 400 / 512) / (1 + 400 / 32))
    # Half the base run at B_noise 40, half at 400: each half scales on its own.
    two = StepsModel(((5.0, 40.0), (5.0, 400.0)), 32)
    expected = 0.5 * (1 + 40 / 512) / (1 + 40 / 32) + 0.5 * (1 + 400 / 512) / (1 + 400 / 32)
    assert two.factor(512) == pytest.approx(expected)
    assert two.floor() == pytest.approx(0.5 / (1 + 40 / 32) + 0.5 / (1 + 400 / 32))
    assert two.scaled(2.0).stretches == ((5.0, 80.0), (5.0, 800.0))
    # The early stretch's small noise scale makes large batches less attractive than one late value says.
    times = step_times(candidate_sizes(4096, 32))
    assert best_batch(two, times) < best_batch(window, times)
    got = predict(400.0, (300.0, 530.0), times, base_batch=32, base_lr=0.1, baseline_batch=32,
                  stretches=two.stretches, prediction="trajectory")
    assert got["batch_size"] == best_batch(two, times)
    row = next(r for r in got["candidates"] if r["batch_size"] == 512)
    assert row["steps_factor"] == row["steps_factor_trajectory"] == pytest.approx(expected)
    assert row["steps_factor_window"] == pytest.approx(window.factor(512))


def test_the_range_holds_every_size_within_the_tolerance_and_the_rate_follows_the_rule():
    from kerasbatch.config.scaling import adam_rule

    times = step_times(candidate_sizes(2048, 32))
    tight = predict(B_NOISE, (300.0, 530.0), times, base_batch=32, base_lr=1e-3, baseline_batch=32)
    wide = predict(B_NOISE, (300.0, 530.0), times, base_batch=32, base_lr=1e-3, baseline_batch=32, tolerance=0.25,
                   rule="adam")
    assert tight["batch_size_interval"] == (256, 512)
    # (1 + 400/B)(a + cB) is within 25 % of its least value from 128 to 1024 (and 2048 at the upper end).
    low, high = wide["batch_size_interval"]
    assert low == 128 and high >= 1024
    assert wide["learning_rate"] == pytest.approx(1e-3 * adam_rule(B_NOISE, 32, wide["batch_size"]))
