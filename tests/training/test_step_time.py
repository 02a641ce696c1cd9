"""Step times between the measured sizes."""

import pytest

from kerasbatch.training.step_time import Profile, monotone


def test_step_time_interpolates_log_log_between_measured_sizes():
    rows = [{"batch_size": 32, "status": "ok", "step_time_median": 0.01},
            {"batch_size": 128, "status": "ok", "step_time_median": 0.04},
            {"batch_size": 512, "status": "oom"}]
    measured = Profile(rows=rows, max_batch_size=128, max_reason="", seconds=1, startup_seconds=1, children=1)
    assert measured.step_time(64) == pytest.approx(0.02)
    assert measured.step_time(32) == pytest.approx(0.01)


def test_a_faster_larger_batch_is_pooled_with_its_neighbour_and_monotone_times_stay_as_they_are():
    assert monotone({32: 1.0, 64: 2.0, 128: 1.6, 256: 4.0}) == {32: 1.0, 64: 1.8, 128: 1.8, 256: 4.0}
    assert monotone({8: 3.0, 16: 2.0, 32: 1.0}) == {8: 2.0, 16: 2.0, 32: 2.0}
    steady = {32: 1.0, 64: 1.5, 128: 2.5}
    assert monotone(steady) == steady


def test_the_profile_answers_with_monotone_step_times():
    # As measured in a user's session: batch 1120 "faster" than 1024.
    rows = [{"batch_size": b, "step_time_median": t, "status": "ok"} for b, t in ((512, 2.0e-3), (1024, 4.07e-3),
                                                                                 (1120, 2.61e-3))]
    times = Profile(rows=rows, max_batch_size=None, max_reason=None, seconds=1, startup_seconds=0,
                    children=1).step_times()
    assert list(times.values()) == sorted(times.values()) and times[1024] == times[1120]
