"""Warm starts: a run that goes on from an earlier run's weights counts from that training's first epoch.

Hyperband trains trials for a few epochs, then continues the best of them, from their weights, for more.
The continued run covers the whole training: its ``history.csv`` starts with the earlier run's rows and
numbers its own epochs after them; its steps, examples, elapsed, training and evaluation seconds add the
earlier run's; its time to target counts from epoch 1, or is the earlier run's when that one got there.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import Any

import keras

from kerasbatch.errors import StoreError
from kerasbatch.store import HISTORY, Store

TO_TARGET = ("epochs_to_target", "steps_to_target", "examples_to_target", "seconds_to_target")


@dataclass(frozen=True)
class EarlierTraining:
    """What a run continues: ``epoch`` epochs trained already, in ``steps`` steps and ``seconds`` seconds,
    ``eval_seconds`` of them spent evaluating.

    ``rows`` are their history rows; ``reached`` their ``*_to_target`` fields when they reached the run's
    target. ``EarlierTraining()`` is a run from scratch.
    """

    epoch: int = 0
    steps: int = 0
    seconds: float = 0.0
    eval_seconds: float = 0.0
    rows: tuple[dict[str, float], ...] = ()
    reached: dict[str, Any] | None = None


def earlier_training(store: Store, run_id: str | None, initial_epoch: int, target: float | None) -> EarlierTraining:
    """The training of the finished run ``run_id`` of ``store``, continued at ``initial_epoch``.

    Without ``run_id`` only the epoch numbering continues (the earlier time and steps are unknown).
    """
    if run_id is None:
        return EarlierTraining(epoch=initial_epoch)
    if not store.is_complete(run_id):
        raise StoreError(f"cannot warm-start from {str(store.run_dir(run_id))!r}: no finished run there")
    summary = store.read_summary(run_id)
    with open(store.run_dir(run_id) / HISTORY, newline="") as fh:
        rows = tuple(_floats(row) for row in csv.DictReader(fh))
    reached = None
    if summary.get("target") == target and summary.get("seconds_to_target") is not None:
        reached = {key: summary[key] for key in TO_TARGET}
    return EarlierTraining(initial_epoch, int(summary["steps"]), float(summary["train_seconds"]),
                           float(summary.get("eval_seconds") or 0.0),
                           tuple(row for row in rows if row["epoch"] <= initial_epoch), reached)


def _floats(row: dict[str, str]) -> dict[str, float]:
    return {key: float(value) if value != "" else math.nan for key, value in row.items()}


def to_target(reached: dict[str, Any] | None, earlier: EarlierTraining, batch_size: int) -> dict[str, Any]:
    """The ``*_to_target`` fields over the whole training, from what this run's ``TimeToTarget`` saw."""
    if earlier.reached is not None:
        return dict(earlier.reached)
    if not reached:
        return dict.fromkeys(TO_TARGET)
    # Keras numbers a continued run's epochs from initial_epoch already.
    return {"epochs_to_target": reached["epochs_to_target"],
            "steps_to_target": reached["steps_to_target"] + earlier.steps,
            "examples_to_target": reached["examples_to_target"] + earlier.steps * batch_size,
            # Like this run's own, the earlier seconds count training only.
            "seconds_to_target": reached["seconds_to_target"] + earlier.seconds - earlier.eval_seconds}


class ContinuedCounts(keras.callbacks.Callback):
    """Adds the earlier training's steps, examples and seconds to the epoch logs' counts.

    Put after ``Throughput`` (which writes ``steps``, ``examples``, ``elapsed``), ``StepEvaluation``
    (``eval_seconds``) and ``TimeToTarget`` (which reads this run's own ``eval_seconds``), and before the
    callbacks that write the logs out.
    """

    def __init__(self, earlier: EarlierTraining, batch_size: int):
        super().__init__()
        self.offsets = {"steps": earlier.steps, "examples": earlier.steps * batch_size, "elapsed": earlier.seconds,
                        "eval_seconds": earlier.eval_seconds}

    def on_epoch_end(self, epoch, logs=None):
        for key, offset in self.offsets.items():
            if logs is not None and key in logs:
                logs[key] = logs[key] + offset
