"""What an optimizer holds and how it is saved: its step, the rate it applies, its loss scale.

:func:`save_model` writes a model whose file loads with plain Keras: kerasbatch's schedules are saved as
Keras's own equivalent, so nobody needs kerasbatch to serve or fine-tune it.
"""

from __future__ import annotations

from pathlib import Path

import keras
from keras import ops

from kerasbatch.optim.schedules import BatchScaledSchedule, WarmupSchedule, keras_schedule, rate_at


def optimizer_steps(model) -> int:
    """Steps the model's optimizer has taken (0 without a compiled model, as before ``fit`` sets one)."""
    iterations = getattr(getattr(model, "optimizer", None), "iterations", None)
    return 0 if iterations is None else int(ops.convert_to_numpy(iterations))

def learning_rate_at(optimizer, step: int) -> float:
    """The optimizer's rate at optimizer step ``step``: its schedule's value there, or its fixed rate.

    Reads the schedule itself (Keras's ``learning_rate`` property only gives the current step's), on the
    inner optimizer of a loss-scale optimizer.
    """
    return rate_at(getattr(optimizer, "inner_optimizer", optimizer)._learning_rate, step)

def applied_learning_rate(optimizer) -> float:
    """The rate used by the optimizer's most recent step (its schedule at ``iterations - 1``)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return learning_rate_at(optimizer, max(int(ops.convert_to_numpy(inner.iterations)) - 1, 0))


def loss_scale(optimizer) -> float | None:
    """The current dynamic loss scale of a ``LossScaleOptimizer`` (which ``compile`` adds under
    ``mixed_float16``), or None for an optimizer that does not scale the loss."""
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return None
    return float(keras.ops.convert_to_numpy(optimizer.scale_loss(1.0)))


def second_moments(model) -> tuple[list, float, int, float] | None:
    """``(v, β₂, t, ε)`` of an Adam or AdamW optimizer after ``t`` steps, ``v[i]`` the second-moment
    estimate of ``model.trainable_variables[i]`` (Adam divides a gradient by ``sqrt(v̂) + ε``,
    ``v̂ = v / (1 - β₂^t)``).

    None for another optimizer, or before its first step (it holds no second moment yet).
    """
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if not isinstance(inner, (keras.optimizers.Adam, keras.optimizers.AdamW)) or not getattr(inner, "built", False):
        return None
    steps = int(ops.convert_to_numpy(inner.iterations))
    if steps == 0:
        return None
    velocities = [inner._velocities[inner._get_variable_index(v)] for v in model.trainable_variables]
    return velocities, float(inner.beta_2), steps, float(inner.epsilon)


def save_model(model: keras.Model, path: str | Path) -> None:
    """``model.save(path)``, with every :class:`WarmupSchedule` saved as its :func:`keras_schedule`.

    Keras serialises an optimizer's schedule by class name, and a class it does not know stops
    ``keras.saving.load_model`` in any process that has not imported kerasbatch. The optimizer's state
    (iterations, momenta) is saved as it is.

    A mixed_float16 model's compile settings name its loss-scale optimizer, not the optimizer it was
    compiled with: Keras wraps that one only when the loading process's policy is mixed_float16 too,
    and elsewhere could not restore the saved optimizer state ("Skipping variable loading").
    """
    # Keras offers no public way to set a scheduled rate (its setter refuses), hence ``_learning_rate``;
    # nor to say which optimizer the compile settings hold, hence ``_compile_config``.
    optimizer = getattr(model, "optimizer", None)
    optimizers = [o for o in (optimizer, getattr(optimizer, "inner_optimizer", None)) if o is not None]
    ours = (WarmupSchedule, BatchScaledSchedule)
    swapped = [(o, o._learning_rate) for o in optimizers if isinstance(getattr(o, "_learning_rate", None), ours)]
    for o, schedule in swapped:
        o._learning_rate = keras_schedule(schedule, int(ops.convert_to_numpy(o.iterations)))
    compiled = getattr(getattr(model, "_compile_config", None), "config", {})
    compiled_with = compiled.get("optimizer")
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer) and compiled_with is not None
    if scaled:
        compiled["optimizer"] = optimizer
    try:
        model.save(path)
    finally:
        for o, schedule in swapped:
            o._learning_rate = schedule
        if scaled:
            compiled["optimizer"] = compiled_with
