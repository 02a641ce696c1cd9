"""Calling a callback's hooks as ``fit`` does, on a stand-in model."""


class FakeModel:
    stop_training = False


def drive(callback, epochs, steps, logs_for_epoch=lambda e: {}, model=None):
    """Call a callback's hooks as fit does, and return the epoch logs it saw."""
    callback.set_model(model or FakeModel())
    callback.on_train_begin()
    seen = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch)
        for step in range(steps):
            callback.on_train_batch_begin(step)
            callback.on_train_batch_end(step, {"loss": 1.0})
        logs = dict(logs_for_epoch(epoch))
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
    callback.on_train_end()
    return seen
