"""Distance travelled through weight space: the L2 distance of the weights from where they started."""

from __future__ import annotations

import keras


class WeightDistance(keras.callbacks.Callback):
    """Writes ``weight_distance`` = ‖θ − θ₀‖₂ over all trainable weights into the epoch logs.

    θ₀ is copied at the start of training, which costs one extra copy of the trainable weights in
    memory. With ``every`` set, the distance is also recorded every that many steps in :attr:`trace`,
    a list of ``(step, distance)`` that starts with ``(0, 0.0)``.

    Args:
        every: also record the distance every this many steps (``None``: at epoch ends only).
    """

    @classmethod
    def from_run(cls, config, dataset) -> WeightDistance:
        return cls()

    def __init__(self, every: int | None = None):
        super().__init__()
        self.every = every
        self.trace: list[tuple[int, float]] = []

    def on_train_begin(self, logs=None):
        self._remember_start()
        self._step = 0
        self.trace = [(0, 0.0)]  # θ = θ₀ here by construction: no need to compute it

    def _remember_start(self) -> None:
        """Copy θ₀ into variables of our own; trace the copy and the distance once per model, not once per fit."""
        import tensorflow as tf

        variables = self.model.trainable_variables
        if getattr(self, "_traced_for", None) == [id(v) for v in variables]:
            self._reset()
            return
        self._initial = [tf.Variable(v.value, trainable=False) for v in variables]

        @tf.function
        def reset():  # one call, not one eager assign per variable
            for start, variable in zip(self._initial, variables):
                start.assign(variable.value)

        @tf.function
        def distance():
            squares = [tf.reduce_sum(tf.math.squared_difference(tf.cast(v.value, tf.float32),
                                                                tf.cast(s, tf.float32)))
                       for v, s in zip(variables, self._initial)]
            return tf.sqrt(tf.add_n(squares))

        # The concrete functions skip tf.function's argument binding on every call.
        self._distance, self._reset = distance.get_concrete_function(), reset.get_concrete_function()
        self._traced_for = [id(v) for v in variables]

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.every and self._step % self.every == 0:
            self.trace.append((self._step, self.distance()))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["weight_distance"] = self.distance()

    def distance(self) -> float:
        """‖θ − θ₀‖₂ now, accumulated in float32 (one traced function, one host sync)."""
        return float(self._distance())
