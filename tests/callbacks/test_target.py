"""The time to the target: its first arrival, and stopping there."""

from kerasbatch.callbacks import TimeToTarget

from tests.callbacks.driver import FakeModel, drive


def test_time_to_target_records_first_arrival_and_can_stop():
    model = FakeModel()
    tracker = TimeToTarget(0.9, batch_size=10, stop=True)
    drive(tracker, 3, 5, lambda e: {"val_accuracy": [0.5, 0.91, 0.95][e]}, model=model)
    assert tracker.reached["epochs_to_target"] == 2
    assert tracker.reached["steps_to_target"] == 10 and tracker.reached["examples_to_target"] == 100
    assert tracker.reached["seconds_to_target"] > 0 and model.stop_training


def test_time_to_target_never_reached():
    tracker = TimeToTarget(0.99, batch_size=10)
    drive(tracker, 2, 1, lambda e: {"val_accuracy": 0.5})
    assert tracker.reached is None
