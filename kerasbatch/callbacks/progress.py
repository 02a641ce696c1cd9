"""Feeds a progress display from inside ``fit``: steps as they end, epoch logs as they are written."""

from __future__ import annotations

import keras


class ProgressFeed(keras.callbacks.Callback):
    """Tells ``display`` (a :class:`kerasbatch.studies.progress.StudyProgress`) how far ``fit`` has got.

    Put it after the measuring callbacks, so that the epoch logs it passes on hold their values
    (``val_accuracy``, ``gns``). Its batch hook stores one integer and never reads the logs, so it
    forces no device sync and leaves Keras free to dispatch batch hooks asynchronously.

    Args:
        display: anything with ``train_begin(steps)``, ``epoch_begin(epoch)``, ``batch_end(step)`` and
            ``epoch_end(epoch, logs)``.

    Example::

        progress = StudyProgress(total=1)
        progress.start_run(1, batch_size=32, epochs=2)
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[ProgressFeed(progress)])
    """

    async_safe = True

    def __init__(self, display) -> None:
        super().__init__()
        self.display = display

    def on_train_begin(self, logs=None):
        self.display.train_begin(self.params.get("steps"))

    def on_epoch_begin(self, epoch, logs=None):
        self.display.epoch_begin(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.display.batch_end(batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self.display.epoch_end(epoch, dict(logs or {}))
