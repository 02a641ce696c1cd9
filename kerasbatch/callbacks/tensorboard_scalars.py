"""TensorBoard scalars of every epoch log, written without TensorFlow ops so they cost the loop nothing."""

from __future__ import annotations

import itertools
import os
import socket
import time
from pathlib import Path

import keras

_FILES = itertools.count()  # one file name per writer in this process, as TensorBoard's own writers do


class TensorBoardScalars(keras.callbacks.Callback):
    """Writes each epoch's logs as TensorBoard scalars: ``train/epoch_<name>`` and ``validation/epoch_<name>``.

    The layout and tags are those of Keras's ``TensorBoard`` callback, so the same dashboards work, but
    only epoch logs are written (Keras's callback also writes a summary every batch), and as event
    records written directly rather than through ``tf.summary`` ops, which cost about a millisecond
    each in eager mode and add up on short epochs. The records go through TensorFlow's TFRecord writer
    (an event file is a TFRecord file), whose checksums are computed in C++: TensorBoard's own Python
    writer checksums every byte in Python, in a thread that still takes this process's CPU. Each epoch
    is on disk when it ends (a flush costs microseconds).

    Args:
        log_dir: the run's TensorBoard folder.
    """

    def __init__(self, log_dir: str | Path):
        super().__init__()
        self.log_dir = Path(log_dir)
        self._writers: dict = {}

    def on_epoch_end(self, epoch, logs=None):
        from tensorboard.compat.proto import event_pb2, summary_pb2

        now, values = time.time(), {}
        for name, value in (logs or {}).items():
            split, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            values.setdefault(split, []).append(summary_pb2.Summary.Value(tag=f"epoch_{tag}",
                                                                          simple_value=float(value)))
        # One event per split and epoch, not one per value: fewer records to frame and checksum.
        for split, split_values in values.items():
            event = event_pb2.Event(wall_time=now, step=epoch, summary=summary_pb2.Summary(value=split_values))
            writer = self._writer(split)
            writer.write(event.SerializeToString())
            writer.flush()

    def on_train_end(self, logs=None):
        self.close()

    def close(self) -> None:
        """Let the writers' files go."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _writer(self, split: str):
        import tensorflow as tf
        from tensorboard.compat.proto import event_pb2

        if split not in self._writers:
            folder = self.log_dir / split
            folder.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_FILES)}"
            writer = tf.io.TFRecordWriter(str(folder / name))
            # TensorBoard reads a file as events only after this first record.
            writer.write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString())
            self._writers[split] = writer
        return self._writers[split]
