"""Distance travelled through weight space: the L2 distance of the weights from where they started."""

from __future__ import annotations

import keras
from keras import ops


class WeightDistance(keras.callbacks.Callback):
    """Writes ``weight_distance`` = ‖θ − θ₀‖₂ over all trainable weights into the epoch logs.

    θ₀ is copied at the start of training, which costs one extra copy of the trainable weights in
    memory. With ``every`` set, the distance is also recorded every that many steps in :attr:`trace`,
    a list of ``(step, distance)`` that starts with ``(0, 0.0)``.

    Args:
        every: also record the distance every this many steps (``None``: at epoch ends only).
    """

    def __init__(self, every: int | None = None):
        super().__init__()
        self.every = every
        self.trace: list[tuple[int, float]] = []

    def on_train_begin(self, logs=None):
        self._initial = [ops.copy(v.value) for v in self.model.trainable_variables]
        self._step = 0
        self.trace = [(0, self.distance())]

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.every and self._step % self.every == 0:
            self.trace.append((self._step, self.distance()))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["weight_distance"] = self.distance()

    def distance(self) -> float:
        """‖θ − θ₀‖₂ now, accumulated in float32."""
        total = 0.0
        for variable, start in zip(self.model.trainable_variables, self._initial):
            diff = ops.cast(variable.value, "float32") - ops.cast(start, "float32")
            total += float(ops.sum(ops.square(diff)))
        return total ** 0.5
