"""The batch size of a running ``fit`` changed by a plan: a Keras callback, for any Keras model.

At every re-evaluation point (every ``plan.every_steps`` steps, and every epoch end) the callback asks its
plan; on a switch it sets the :class:`~kerasbatch.data.resizable.ResizableBatches` size for the next step,
moves the learning rate with it and tells the other callbacks (their ``set_batch_size``). Nothing is
traced again: the batch dimension of the train step is generic, and the rate is either a variable or a
:class:`~kerasbatch.optim.schedules.BatchScaledSchedule`, whose anchors are variables.

Example (the plain-Keras form of ``--batch-schedule adaptive``)::

    batches = ResizableBatches(x, y, batch_size=32)
    noise = GradientNoise.from_batches(batches)
    adapt = AdaptiveBatchSize(batches, noise, max_batch=512)
    model.fit(batches.dataset(), validation_data=(x_val, y_val), epochs=10, callbacks=[noise, adapt])
    adapt.schedule        # the switches: step, batch size, learning rate, why
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable

import keras
import numpy as np

from kerasbatch.data.resizable import ResizableBatches
from kerasbatch.optim.schedules import BatchScaledSchedule
from kerasbatch.optim.state import learning_rate_at, optimizer_steps
from kerasbatch.training.schedules.adaptive import AdaptivePlan, default_every_steps
from kerasbatch.training.schedules.increase import IncreasePlan
from kerasbatch.training.schedules.plan import FixedPlan, default_max_batch
from kerasbatch.training.step_time import GradientTimer, StepTimeModel


class BatchSizeSchedule(keras.callbacks.Callback):
    """Applies ``plan`` to ``batches`` while ``fit`` trains on ``batches.dataset()``.

    Args:
        batches: the run's training batches.
        plan: what decides (:class:`~kerasbatch.training.schedules.plan.FixedPlan` and its kinds).
        notify: callbacks whose ``set_batch_size`` is called at a switch (the ones that count examples).

    Attributes:
        schedule: the starting batch, then one entry per switch: ``epoch`` (epochs done before it),
            ``step``, ``batch_size``, ``learning_rate`` (the rate of the next step), ``reason``,
            ``noise_scale``.
    """

    def __init__(self, batches: ResizableBatches, plan: FixedPlan, notify: Iterable[Any] = ()):
        super().__init__()
        self.batches, self.plan, self.notify = batches, plan, list(notify)
        self.start_batch = batches.batch_size
        self.schedule: list[dict[str, Any]] = []

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        rate = getattr(optimizer, "_learning_rate", None)
        self._scaled = rate if isinstance(rate, BatchScaledSchedule) else None
        if self._scaled is None and isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("a batch size that changes needs a constant learning rate or a BatchScaledSchedule "
                             "around the schedule (kerasbatch.optim.schedules), so that the rate can follow it")
        self._base_rate = None if self._scaled else float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        self.batches.batch_size = self.start_batch
        self.factor, self.epoch, self.switch_seconds = 1.0, 0, []
        self._steps = optimizer_steps(self.model)
        self._evaluated_at = None
        self.schedule = [self._entry(self.start_batch, "start", math.nan)]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self._epoch_step, self._epoch_examples = epoch, 0, 0

    def on_train_batch_end(self, batch, logs=None):
        self._epoch_step += 1
        self._steps += 1
        self._epoch_examples += self.batches.batch_size
        # Not at an epoch's last step: the epoch end decides there, after the epoch's logs have its rate.
        last = self.batches.n - self._epoch_examples < self.batches.batch_size
        every = self.plan.every_steps
        if every and self._epoch_step % every == 0 and not last:
            self._evaluate(self.epoch)

    def on_test_begin(self, logs=None):
        self._exact_steps()  # validation comes before every callback's on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        self._exact_steps()
        if epoch + 1 < self.params.get("epochs", math.inf) and not self.model.stop_training:
            self._evaluate(epoch + 1)  # not after the last epoch: no step would train at its choice

    def _exact_steps(self) -> None:
        # The call that finds an epoch's data exhausted still runs the optimizer's step counter (it does
        # not wait for the data), so an epoch of unknown length ends one count ahead; put it right.
        iterations = getattr(self.model.optimizer, "iterations", None)
        if iterations is not None and optimizer_steps(self.model) != self._steps:
            iterations.assign(self._steps)

    def _evaluate(self, epochs_done: int) -> None:
        if self._steps == self._evaluated_at:
            return  # an epoch that ends where a mid-epoch point just was: nothing new to decide on
        self._evaluated_at = self._steps
        chosen = self.plan.decide(epochs_done, self.batches.batch_size, self.factor)
        if chosen is None:
            return
        started = time.perf_counter()
        decision, self.factor = chosen
        self.batches.batch_size = decision.batch_size
        step = optimizer_steps(self.model)
        if self._scaled is not None:
            self._scaled.switch(step, decision.batch_size, self.factor)
        else:
            optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
            optimizer.learning_rate.assign(self._base_rate * self.factor)
        for callback in self.notify:
            if hasattr(callback, "set_batch_size"):
                callback.set_batch_size(decision.batch_size)
        self.switch_seconds.append(time.perf_counter() - started)
        noise = getattr(getattr(self.plan, "noise", None), "accumulator", None)
        self.schedule.append(self._entry(decision.batch_size, decision.reason, noise.gns if noise else math.nan,
                                         epochs_done))

    def _entry(self, batch_size: int, reason: str, noise_scale: float, epoch: int | None = None) -> dict[str, Any]:
        step = optimizer_steps(self.model)
        return {"epoch": self.epoch if epoch is None else epoch, "step": step, "batch_size": batch_size,
                "learning_rate": learning_rate_at(self.model.optimizer, step), "reason": reason,
                "noise_scale": None if not math.isfinite(noise_scale) else float(noise_scale)}


class _RecentStepTime(keras.callbacks.Callback):
    """The median of the last steps' times, for a user's fit without kerasbatch's Throughput."""

    def __init__(self, window: int = 20):
        super().__init__()
        self.window, self.times = window, []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times = [*self.times[-self.window + 1:], time.perf_counter() - self._start]

    def set_batch_size(self, batch_size: int) -> None:
        self.times = []  # the next steps are at the new size

    def __call__(self) -> float:
        return float(np.median(self.times[1:])) if len(self.times) > 1 else math.nan


class AdaptiveBatchSize(BatchSizeSchedule):
    """The batch follows the noise scale (Pollux, Qiao et al. 2021) inside one ``fit`` of any Keras model.

    Every ``every_steps`` steps (four times an epoch at the starting batch by default) and at epoch ends it
    picks the batch with the best goodput ``thr(B) · (B_noise + B0)/(B_noise + B)`` within a factor of two,
    switching for a gain of at least 10%, and rescales the learning rate with the noise-scale rule
    ``lr(B') = lr(B) (1 + B_noise/B) / (1 + B_noise/B')``. Throughput is timed on the fly (a gradient at
    half and double the batch), or taken from ``step_times`` (``{batch: seconds}``, e.g. a profile).

    Args:
        batches: the training batches ``fit`` trains on (``batches.dataset()``).
        noise: the :class:`~kerasbatch.callbacks.gradient_noise.GradientNoise` in the same ``fit``; it is
            asked for an estimate at least as often as this decides.
        max_batch: the largest batch (default: the largest multiple of 8 leaving 8 steps an epoch).
    """

    def __init__(self, batches: ResizableBatches, noise, *, max_batch: int | None = None,
                 every_steps: int | None = None, step_times: dict[int, float] | None = None, notify=()):
        every = every_steps or default_every_steps(batches.n, batches.batch_size)
        noise.every = min(noise.every, every)
        max_batch = max_batch or max(batches.batch_size, default_max_batch(batches.n))
        self._timer = _RecentStepTime()
        self._step_times = step_times
        plan = AdaptivePlan(batches.batch_size, max_batch, noise, self._timer, StepTimeModel(step_times, None),
                            every_steps=every)
        super().__init__(batches, plan, notify=[noise, self._timer, *notify])

    def set_model(self, model):
        super().set_model(model)
        self._timer.set_model(model)
        if not self._step_times:  # timed on the fly, on a slice of the training examples
            x, y = self.batches.examples(2 * self.plan.policy.max_batch)
            self.plan.step_time.timer = GradientTimer(model, x, y)

    def on_train_batch_begin(self, batch, logs=None):
        self._timer.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._timer.on_train_batch_end(batch, logs)
        super().on_train_batch_end(batch, logs)


class IncreaseBatchSize(BatchSizeSchedule):
    """Smith et al. (2018), inside one ``fit``: where a step decay would divide the rate by 10 (at 50% and
    75% of the epochs after warm-up), the batch is multiplied by 10 instead, up to ``max_batch``; what the
    batch cannot take goes to the rate. Compile with a constant rate (or warm-up only)."""

    def __init__(self, batches: ResizableBatches, epochs: int, *, max_batch: int | None = None,
                 warmup_epochs: float = 0.0, notify=()):
        max_batch = max_batch or max(batches.batch_size, default_max_batch(batches.n))
        super().__init__(batches, IncreasePlan(batches.batch_size, epochs, max_batch, warmup_epochs), notify=notify)
