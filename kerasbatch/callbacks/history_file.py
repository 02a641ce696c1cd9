"""``history.csv``: one row per epoch, rewritten atomically after every epoch."""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd

from kerasbatch.store import atomic_path

LEADING = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "elapsed",
           "samples_per_second", "steps", "examples")


class HistoryFile(keras.callbacks.Callback):
    """Writes every epoch's logs to a CSV file that is always whole.

    Unlike Keras's ``CSVLogger``, the columns are the union of every epoch's logs, so a measurement
    that first appears in a later epoch is kept (earlier rows get an empty cell) rather than dropped.
    The file is rewritten through a temporary file and a rename, so a reader (or a crash) never sees
    half a row. Rows are kept in :attr:`rows` as well.

    Args:
        path: the CSV file to write.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []

    def on_train_begin(self, logs=None):
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.rows.append(row)
        frame = pd.DataFrame(self.rows)
        lead = [c for c in LEADING if c in frame.columns]
        frame = frame[lead + [c for c in frame.columns if c not in lead]]
        with atomic_path(self.path) as tmp:
            frame.to_csv(tmp, index=False)
