"""The measuring run's stopping rules: the target, a plateau, the budget; the extra estimates' cap."""

import time
from types import SimpleNamespace

from kerasbatch.callbacks.noise_watch import NoiseWatch


class _Noise:
    """Estimates with |G|² around zero: the noise scale's error never falls below the limit."""

    def __init__(self):
        self.estimates = []
        self.rng = __import__("random").Random(0)

    def measure(self):
        self.estimates.append((self.rng.gauss(0.0, 1.0), 100.0))


def _watch(target, budget_seconds=3600.0, **kwargs):
    watch = NoiseWatch(_Noise(), target, max_relative_error=0.2, budget_seconds=budget_seconds, **kwargs)
    watch.set_model(SimpleNamespace(stop_training=False))
    return watch


def _epochs(watch, accuracies):
    """Feeds epochs until the watch stops training; the number of epochs it let run."""
    for epoch, accuracy in enumerate(accuracies):
        watch.noise.estimates.append((1.0, 100.0))
        watch.on_epoch_end(epoch, {"val_accuracy": accuracy})
        if watch.model.stop_training:
            return epoch + 1
    return len(accuracies)


def test_a_run_that_reaches_the_target_stops_there():
    watch = _watch(0.9)
    assert _epochs(watch, [0.5, 0.8, 0.91, 0.95]) == 3
    assert watch.stopped_because == "reached the target" and watch.reached_at == 3


def test_a_run_that_levels_off_below_the_target_stops_instead_of_spending_the_budget():
    # Rises to 0.9 by epoch 30, then wobbles within 0.4 points: stops 15 epochs later (max(10, 30 // 2)).
    rising = [0.3 + 0.02 * e for e in range(1, 31)]
    flat = [0.9, 0.903, 0.899, 0.902] * 25
    watch = _watch(0.95)
    assert _epochs(watch, rising + flat) == 45
    assert watch.stopped_because == "validation accuracy stopped rising after epoch 30"
    # Slow but real progress (half a point every 8 epochs) keeps it going.
    slow = [0.5 + 0.005 * (e // 8) for e in range(200)]
    assert _epochs(_watch(0.95), slow) == 200


def test_extra_estimates_cost_no_more_time_than_the_run_they_measure():
    watch = _watch(0.9, budget_seconds=2.0)  # a twentieth of it, 0.1 s, is less than half the run's 0.4 s
    watch.on_epoch_end(0, {"val_accuracy": 0.95})
    watch._start -= 0.4  # the run took 400 ms
    began = time.perf_counter()
    watch.measure_more(batch=1, limit=10**9)
    # The error stays above the limit: it stopped on time, after half as long as the run took.
    assert watch.error() >= 0.2 and len(watch.estimates) > 100
    assert 0.2 <= time.perf_counter() - began < 5.0  # without the cap it would not stop at all


def test_a_run_over_within_a_few_probes_still_gets_a_twentieth_of_the_budget_for_more():
    watch = _watch(0.9, budget_seconds=8.0)
    watch.on_epoch_end(0, {"val_accuracy": 0.95})  # the run took a few milliseconds
    began = time.perf_counter()
    watch.measure_more(batch=1, limit=10**9)
    assert 0.4 <= time.perf_counter() - began < 5.0
