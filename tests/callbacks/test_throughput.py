"""Throughput: examples per second after the skipped first steps, and step-time percentiles."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from kerasbatch.callbacks import Throughput

from tests.callbacks.driver import drive


def test_throughput_skips_the_first_steps_and_counts_examples():
    meter = Throughput(batch_size=8, skip_steps=3)
    logs = drive(meter, epochs=2, steps=2)
    assert math.isnan(logs[0]["samples_per_second"])  # both steps of epoch 1 were skipped
    assert logs[1]["samples_per_second"] > 0
    assert [l["steps"] for l in logs] == [2, 4] and [l["examples"] for l in logs] == [16, 32]
    assert meter.timed_steps == 1 and meter.samples_per_second > 0
    assert logs[1]["elapsed"] >= logs[1]["seconds"] > 0


def test_step_time_median_and_p90_are_numpys_percentiles(monkeypatch):
    from kerasbatch.callbacks import throughput

    durations = [0.5, 0.1, 0.4, 0.2, 0.9, 0.3, 0.7]  # seconds, one per step after the skipped first
    clock = [0.0, 0.0]  # read by on_train_begin and on_epoch_begin
    for seconds in [1.0, *durations]:  # each step's begin and end, 50 ms apart
        clock += [clock[-1] + 0.05, clock[-1] + 0.05 + seconds]
    ticks = iter(clock + [clock[-1] + 0.05])
    meter = Throughput(batch_size=4, skip_steps=1)
    monkeypatch.setattr(throughput, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    meter.on_train_begin()
    meter.on_epoch_begin(0)
    for step in range(len(durations) + 1):
        meter.on_train_batch_begin(step)
        meter.on_train_batch_end(step)
    logs = {}
    meter.on_epoch_end(0, logs)
    assert logs["step_time_median"] == pytest.approx(np.median(durations))
    assert logs["step_time_p90"] == pytest.approx(np.percentile(durations, 90))


def test_throughput_state_resets_between_fits():
    meter = Throughput(batch_size=4, skip_steps=0)
    drive(meter, 1, 3)
    drive(meter, 1, 2)
    assert meter.steps == 2 and meter.timed_steps == 2
