"""``history.csv``: one row per epoch, appended after every epoch (rewritten atomically for a new column)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import keras

from kerasbatch.store import atomic_path

LEADING = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "elapsed",
           "samples_per_second", "steps", "examples")


class HistoryFile(keras.callbacks.Callback):
    """Writes every epoch's logs to a CSV file that is always whole.

    Unlike Keras's ``CSVLogger``, the columns are the union of every epoch's logs, so a measurement
    that first appears in a later epoch is kept (earlier rows get an empty cell) rather than dropped.
    A row with no new column is appended (one write of one line); a new column rewrites the file
    through a temporary file and a rename, so a reader (or a crash) never sees a header that does not
    match its rows, and an epoch costs the same at epoch 1000 as at epoch 1. Rows are kept in
    :attr:`rows` as well.

    Args:
        path: the CSV file to write.
        earlier: rows that come first (the epochs of the training a warm start continues).
    """

    def __init__(self, path: str | Path, earlier: Sequence[dict[str, float]] = ()):
        super().__init__()
        self.path = Path(path)
        self.earlier = [dict(row) for row in earlier]
        self.rows: list[dict[str, float]] = []
        self._columns: list[str] | None = None  # the header on disk; None before the first write

    def on_train_begin(self, logs=None):
        self.rows = [dict(row) for row in self.earlier]
        self._columns = None

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.rows.append(row)
        if self._columns is not None and row.keys() <= set(self._columns):
            with open(self.path, "a", newline="") as fh:
                csv.DictWriter(fh, self._columns, restval="").writerow(_cells(row))
            return
        seen = dict.fromkeys(key for r in self.rows for key in r)
        self._columns = [c for c in LEADING if c in seen] + [c for c in seen if c not in LEADING]
        with atomic_path(self.path) as tmp:
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, self._columns, restval="")
                writer.writeheader()
                writer.writerows(_cells(r) for r in self.rows)


def _cells(row: dict[str, float]) -> dict[str, str | int | float]:
    return {k: _cell(v) for k, v in row.items()}


def _cell(value: float) -> str | int | float:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return "" if isinstance(value, float) and math.isnan(value) else value
