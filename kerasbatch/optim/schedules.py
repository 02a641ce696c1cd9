"""The learning-rate schedule that follows the batch size.

The peak rate comes from the scaling rule in :class:`kerasbatch.config.run.OptimConfig`; this module turns
it into one serialisable :class:`WarmupSchedule` (gradual warm-up, then constant, step or cosine
decay), wraps it in a :class:`BatchScaledSchedule` where the batch changes during a run, and gives each
one's Keras twin for saving (:func:`keras_schedule`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from kerasbatch.config.run import OptimConfig


@keras.saving.register_keras_serializable(package="kerasbatch")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``start_lr`` to ``peak_lr``, then ``constant``, ``step`` or ``cosine`` decay.

    Args:
        peak_lr: the rate reached at the end of warm-up (the batch-scaled rate).
        total_steps: optimizer steps in the whole run; decay is laid out over the steps after warm-up.
        warmup_steps: steps of linear warm-up (0 for none).
        start_lr: the rate at step 0 of warm-up.
        decay: ``constant``; ``step`` (×0.1 at 50% and again at 75% of the post-warm-up steps, the
            ResNet CIFAR recipe); or ``cosine`` (to 0 at ``total_steps``).

    Example:
        >>> schedule = WarmupSchedule(peak_lr=0.4, total_steps=100, warmup_steps=10, start_lr=0.1)
        >>> round(float(schedule(5)), 3)
        0.25
    """

    def __init__(self, peak_lr, total_steps, warmup_steps=0, start_lr=0.0, decay="constant"):
        self.peak_lr = float(peak_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.start_lr = float(start_lr)
        self.decay = decay

    def __call__(self, step):
        return self._rate(ops.cast(step, "float32"), ops)

    def rate_at(self, step: float) -> float:
        """The rate at ``step`` as a Python number, computed with numpy: logging it each epoch costs no
        TensorFlow op (the formula of the traced one, in float32: equal to it within float32 rounding)."""
        return float(self._rate(np.float32(step), np))

    def _rate(self, step, xp):
        """The schedule at ``step`` with the array functions of ``xp`` (``keras.ops`` or numpy)."""
        decayed = self._decayed(step - self.warmup_steps, max(self.total_steps - self.warmup_steps, 1), xp)
        if self.warmup_steps == 0:
            return decayed
        fraction = xp.minimum(step / np.float32(self.warmup_steps), np.float32(1.0))
        warm = np.float32(self.start_lr) + np.float32(self.peak_lr - self.start_lr) * fraction
        return xp.where(step < self.warmup_steps, warm, decayed)

    def _decayed(self, step, span, xp):
        peak = np.float32(self.peak_lr)
        if self.decay == "step":
            factor = xp.where(step >= 0.75 * span, np.float32(0.01),
                              xp.where(step >= 0.5 * span, np.float32(0.1), np.float32(1.0)))
            return peak * factor
        if self.decay == "cosine":
            progress = xp.clip(step / np.float32(span), np.float32(0.0), np.float32(1.0))
            return peak * np.float32(0.5) * (np.float32(1.0) + xp.cos(np.float32(math.pi) * progress))
        return xp.full((), peak, dtype="float32")

    def get_config(self):
        return {
            "peak_lr": self.peak_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "start_lr": self.start_lr,
            "decay": self.decay,
        }


@keras.saving.register_keras_serializable(package="kerasbatch")
class BatchScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``base`` followed in examples rather than steps, times a rate factor: the schedule of a run whose
    batch size changes.

    ``base`` is laid out in steps of ``base_batch``. After :meth:`switch` to a batch ``B`` at optimizer
    step ``s``, step ``s + n`` is read as ``base``'s step ``v(s) + n · B / base_batch`` (warm-up and decay
    cover the same examples whatever the batch), times ``factor`` (the noise-scale rule's rescaling).
    The three numbers are variables read inside the traced train step, so a switch costs no retracing.

    Example:
        >>> schedule = BatchScaledSchedule(WarmupSchedule(peak_lr=0.1, total_steps=100), base_batch=32)
        >>> schedule.switch(step=10, batch_size=64, factor=1.5)
        >>> round(float(schedule(20)), 3)
        0.15
    """

    def __init__(self, base, base_batch, factor=1.0, anchor_step=0.0, anchor_virtual=0.0, ratio=1.0):
        self.base = keras.optimizers.schedules.deserialize(base) if isinstance(base, dict) else base
        self.base_batch = int(base_batch)
        self.factor = keras.Variable(float(factor), trainable=False, name="lr_factor")
        self.anchor_step = keras.Variable(float(anchor_step), trainable=False, name="anchor_step")
        self.anchor_virtual = keras.Variable(float(anchor_virtual), trainable=False, name="anchor_virtual")
        self.ratio = keras.Variable(float(ratio), trainable=False, name="batch_ratio")

    def virtual_step(self, step):
        return self._virtual(ops.cast(step, "float32"), lambda variable: variable)

    def _virtual(self, step, read):
        """``base``'s step at optimizer step ``step``, each anchor variable taken through ``read`` (as
        it is, inside a traced step; as a Python number, for :meth:`rate_at`)."""
        return read(self.anchor_virtual) + (step - read(self.anchor_step)) * read(self.ratio)

    def __call__(self, step):
        return self.base(self.virtual_step(step)) * self.factor

    def rate_at(self, step: float) -> float:
        """The rate at ``step`` as a Python number, without TensorFlow ops (see :meth:`WarmupSchedule.rate_at`)."""
        return rate_at(self.base, self._virtual(step, _number)) * _number(self.factor)

    def switch(self, step: int, batch_size: int, factor: float) -> None:
        """From optimizer step ``step`` on, batches of ``batch_size`` and the rate factor ``factor``."""
        virtual = float(ops.convert_to_numpy(self.virtual_step(step)))
        self.anchor_virtual.assign(virtual)
        self.anchor_step.assign(float(step))
        self.ratio.assign(batch_size / self.base_batch)
        self.factor.assign(float(factor))

    def get_config(self):
        return {"base": keras.optimizers.schedules.serialize(self.base), "base_batch": self.base_batch,
                "factor": _number(self.factor), "anchor_step": _number(self.anchor_step),
                "anchor_virtual": _number(self.anchor_virtual), "ratio": _number(self.ratio)}


def _number(variable) -> float:
    return float(ops.convert_to_numpy(variable))


def rate_at(rate, step: float) -> float:
    """A learning rate (a number or a Keras schedule) at optimizer step ``step``, as a Python float;
    kerasbatch's schedules answer in plain Python, others through an eager call."""
    if hasattr(rate, "rate_at"):
        return rate.rate_at(step)
    return float(ops.convert_to_numpy(rate(step) if callable(rate) else rate))


def make_schedule(optim: OptimConfig, batch_size: int, steps_per_epoch: int, epochs: int) -> WarmupSchedule:
    """The schedule for one run: scaled peak rate, warm-up and decay measured in optimizer steps.

    Warm-up starts from the base (unscaled) rate when scaling raised the rate, as Goyal et al. do;
    otherwise from zero, the usual warm-up for a rate that was not scaled up.
    """
    peak = optim.scaled_learning_rate(batch_size)
    start = optim.learning_rate if peak > optim.learning_rate else 0.0
    return WarmupSchedule(
        peak_lr=peak,
        total_steps=steps_per_epoch * epochs,
        warmup_steps=round(optim.warmup_epochs * steps_per_epoch),
        start_lr=start,
        decay=optim.schedule,
    )


def keras_schedule(schedule, step: int = 0) -> keras.optimizers.schedules.LearningRateSchedule:
    """Keras's own schedule with the rates of ``schedule``, for saving.

    Constant and cosine decay, with or without warm-up, are Keras's ``CosineDecay`` exactly (constant
    is ``alpha=1``). Step decay after a warm-up has no built-in twin: it becomes the
    ``PiecewiseConstantDecay`` of the steps after warm-up, which is exact from the end of warm-up on,
    where a saved model's optimizer continues.

    A :class:`BatchScaledSchedule` (a run whose batch changed) is saved as its rate at ``step``, constant:
    its step-to-example mapping has no Keras twin, and a fine-tuning run picks its own rate anyway.
    """
    if isinstance(schedule, BatchScaledSchedule):
        rate = float(ops.convert_to_numpy(schedule(step)))
        return keras.optimizers.schedules.CosineDecay(rate, 1, alpha=1.0)
    warmup, span = schedule.warmup_steps, max(schedule.total_steps - schedule.warmup_steps, 1)
    if schedule.decay in ("constant", "cosine"):
        ramp = {"warmup_target": schedule.peak_lr, "warmup_steps": warmup} if warmup else {}
        start = schedule.start_lr if warmup else schedule.peak_lr
        alpha = 1.0 if schedule.decay == "constant" else 0.0
        return keras.optimizers.schedules.CosineDecay(start, span, alpha=alpha, **ramp)
    # Ours drops at step >= warmup + f*span; Keras's after step > boundary: the last integer step before.
    boundaries = [math.ceil(warmup + f * span) - 1 for f in (0.5, 0.75)]
    values = [schedule.peak_lr * factor for factor in (1.0, 0.1, 0.01)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


