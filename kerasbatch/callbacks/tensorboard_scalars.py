"""TensorBoard scalars of every epoch log, written without TensorFlow ops so they cost the loop nothing."""

from __future__ import annotations

import time
from pathlib import Path

import keras


class TensorBoardScalars(keras.callbacks.Callback):
    """Writes each epoch's logs as TensorBoard scalars: ``train/epoch_<name>`` and ``validation/epoch_<name>``.

    The layout and tags are those of Keras's ``TensorBoard`` callback, so the same dashboards work, but
    only epoch logs are written (Keras's callback also writes a summary every batch), and through
    TensorBoard's own event-file writer rather than ``tf.summary`` ops, which cost about a millisecond
    each in eager mode and add up on short epochs. Events are flushed at the end of training and at most
    ``flush_seconds`` apart.

    Args:
        log_dir: the run's TensorBoard folder.
        flush_seconds: how long events may wait in memory before they are written to disk.
    """

    def __init__(self, log_dir: str | Path, flush_seconds: float = 10.0):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.flush_seconds = flush_seconds
        self._writers: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        from tensorboard.compat.proto import event_pb2, summary_pb2

        now, values = time.time(), {}
        for name, value in (logs or {}).items():
            split, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            values.setdefault(split, []).append(summary_pb2.Summary.Value(tag=f"epoch_{tag}",
                                                                          simple_value=float(value)))
        # One event per split and epoch, not one per value: the writer frames and checksums each event
        # in pure Python.
        for split, split_values in values.items():
            summary = summary_pb2.Summary(value=split_values)
            self._writer(split).add_event(event_pb2.Event(wall_time=now, step=epoch, summary=summary))

    def on_train_end(self, logs=None):
        self.close()

    def close(self) -> None:
        """Write what is buffered and let the writers' files and threads go."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _writer(self, split: str):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if split not in self._writers:
            self._writers[split] = EventFileWriter(str(self.log_dir / split), flush_secs=self.flush_seconds)
        return self._writers[split]
