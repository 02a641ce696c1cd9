"""A loss that is no longer finite stops the run at its step."""

from kerasbatch.callbacks import StopOnNonFinite

from tests.callbacks.driver import FakeModel


def test_non_finite_loss_stops_and_records_the_step():
    model, stopper = FakeModel(), StopOnNonFinite()
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_train_batch_end(0, {"loss": 0.3})
    assert stopper.diverged_at_step is None
    stopper.on_train_batch_end(1, {"loss": float("nan")})
    assert stopper.diverged_at_step == 2 and model.stop_training
