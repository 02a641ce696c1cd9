"""Step times between the measured sizes."""

import pytest

from kerasbatch.training.step_time import Profile


def test_step_time_interpolates_log_log_between_measured_sizes():
    rows = [{"batch_size": 32, "status": "ok", "step_time_median": 0.01},
            {"batch_size": 128, "status": "ok", "step_time_median": 0.04},
            {"batch_size": 512, "status": "oom"}]
    measured = Profile(rows=rows, max_batch_size=128, max_reason="", seconds=1, startup_seconds=1, children=1)
    assert measured.step_time(64) == pytest.approx(0.02)
    assert measured.step_time(32) == pytest.approx(0.01)
