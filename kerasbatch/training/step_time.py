"""The step time at any batch size: from the study's hardware profile, or timed during the run.

``profile.json`` (written by :func:`kerasbatch.learner.profile.profile`) holds the measured cost of each
batch size; :class:`Profile` reads it back. A run whose batch changes asks a :class:`StepTimeModel`,
which uses that profile when it measured the same model and data, and otherwise times the gradient at
nearby sizes on the fly (:class:`GradientTimer`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasbatch.config.run import RunConfig
from kerasbatch.noise.probe import loss_fn
from kerasbatch.store import PROFILE, read_json

if TYPE_CHECKING:
    import keras


def step_time_at(step_times: dict[int, float], batch_size: int) -> float:
    """The step time at ``batch_size``: measured, or interpolated log-log between the measured sizes
    (the nearest end's value outside them)."""
    if batch_size in step_times:
        return step_times[batch_size]
    sizes = sorted(step_times)
    log_t = np.interp(math.log(batch_size), np.log(sizes), np.log([step_times[b] for b in sizes]))
    return float(np.exp(log_t))


def step_times(rows: list[dict[str, Any]]) -> dict[int, float]:
    """``{batch_size: median step time}`` of the profile rows that fit (``status`` ok), made monotone."""
    return monotone({r["batch_size"]: r["step_time_median"] for r in rows if r["status"] == "ok"})


def monotone(times: dict[int, float]) -> dict[int, float]:
    """The closest non-decreasing step times (least squares, pool-adjacent-violators), in batch order.

    A larger batch never steps faster; a measurement that says so is noise (a busy moment of a shared
    machine), and a choice resting on it would be wrong, so neighbours that disagree are pooled.

    Example:
        >>> monotone({32: 1.0, 64: 2.0, 128: 1.6, 256: 4.0})
        {32: 1.0, 64: 1.8, 128: 1.8, 256: 4.0}
    """
    blocks: list[list[float]] = []  # [sum, count] of pooled neighbours
    for size in sorted(times):
        blocks.append([times[size], 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    values = [total / count for total, count in blocks for _ in range(count)]
    return dict(zip(sorted(times), values))


@dataclass
class Profile:
    """Measured cost per batch size: ``rows`` (one dict per size), the largest size that fit, the cost."""

    rows: list[dict[str, Any]]
    max_batch_size: int | None
    max_reason: str | None
    seconds: float
    startup_seconds: float
    children: int
    settings: dict[str, Any] = field(default_factory=dict)

    def fits(self) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows if r["status"] == "ok"), key=lambda r: r["batch_size"])

    def step_times(self) -> dict[int, float]:
        """Median step time (seconds) per batch size that fit, in ascending batch order."""
        return step_times(self.fits())

    def step_time(self, batch_size: int) -> float:
        """Median step time at ``batch_size``: measured, or interpolated log-log between measured sizes
        (proportional to the batch when only one size was measured)."""
        ok = self.fits()
        if len(ok) == 1:
            return float(ok[0]["step_time_median"] * batch_size / ok[0]["batch_size"])
        return step_time_at(self.step_times(), batch_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return cls(**data)

def read_profile(study_dir: str | Path) -> Profile | None:
    path = Path(study_dir) / PROFILE
    return Profile.from_dict(read_json(path)) if path.is_file() else None


class GradientTimer:
    """Times a forward and backward pass at any batch size without changing a variable.

    One ``tf.function`` with a generic batch dimension serves every size (one trace). It runs in
    inference mode so that batch normalization's moving statistics stay as they are. Used to tell how
    a training step's time grows with the batch where no profile measured it.
    """

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, repeats: int = 5):
        import tensorflow as tf

        self.x = x.astype("float32") / 255.0 if x.dtype == np.uint8 else x
        self.y, self.repeats, self.cache = y, repeats, {}
        loss = loss_fn(model)
        spec = (tf.TensorSpec([None, *self.x.shape[1:]], self.x.dtype), tf.TensorSpec([None], self.y.dtype))

        @tf.function(input_signature=spec)
        def gradients(xb, yb):
            with tf.GradientTape() as tape:
                value = loss(yb, model(xb, training=False))
            return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(value, model.trainable_variables)
                             if g is not None])

        self._gradients = gradients

    def seconds(self, batch_size: int) -> float:
        """Median time of a gradient at ``batch_size`` (measured once per size)."""
        if batch_size not in self.cache:
            xb, yb = self.x[:batch_size], self.y[:batch_size]
            float(self._gradients(xb, yb))  # warm-up: the first call traces
            times = []
            for _ in range(self.repeats):
                start = time.perf_counter()
                float(self._gradients(xb, yb))
                times.append(time.perf_counter() - start)
            self.cache[batch_size] = float(np.median(times))
        return self.cache[batch_size]

@dataclass
class StepTimeModel:
    """Step time at any batch: the study's profile when it has one for this model and data, otherwise
    the run's own measured step time at the current batch plus the gradient's extra time at the other
    size (:class:`GradientTimer`): the fixed cost of a step (the update, the dispatch) is measured, the
    part that grows with the batch is timed on the fly."""

    profile_times: dict[int, float] | None
    timer: GradientTimer | None
    current_batch: int = 0
    current_time: float = math.nan

    @property
    def source(self) -> str:
        return "profile" if self.profile_times else "on-the-fly"

    def __call__(self, batch_size: int) -> float:
        if self.profile_times:
            return step_time_at(self.profile_times, batch_size)
        # Three sizes timed (half, same, double: the policy's whole range), the others interpolated.
        current = self.current_batch
        anchors = monotone({b: self.timer.seconds(b) for b in {max(1, current // 2), current, 2 * current}})
        extra = step_time_at(anchors, batch_size) - anchors[current]
        return max(self.current_time + extra, 1e-6)

def study_profile(study_dir, config: RunConfig) -> tuple[dict[int, float] | None, int | None]:
    """``(median step times, largest batch that fits)`` from the study's ``profile.json`` when it profiled
    this run's model and data at two sizes or more; ``(None, None)`` otherwise."""
    try:
        found = read_profile(study_dir) if study_dir else None
    except Exception:  # an unreadable or older profile is no reason to fail a run; time on the fly
        return None, None
    if found is None:
        return None, None
    mine = config.identity()
    same = all(found.settings.get(key) == mine.get(key) for key in ("data", "model", "precision"))
    times = found.step_times()
    return (times, found.max_batch_size) if same and len(times) >= 2 else (None, None)
