"""The Keras optimizer of a run, from its :class:`~kerasbatch.config.run.OptimConfig`."""

from __future__ import annotations

import keras

from kerasbatch.config.run import OptimConfig
from kerasbatch.optim.schedules import WarmupSchedule


def make_optimizer(optim: OptimConfig, schedule: WarmupSchedule) -> keras.optimizers.Optimizer:
    """A Keras optimizer following ``schedule``. Loss scaling is added by ``compile`` under float16."""
    decay = optim.weight_decay or None
    if optim.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=optim.momentum, nesterov=optim.nesterov, weight_decay=decay)
    if optim.optimizer == "adam":
        return keras.optimizers.Adam(schedule, weight_decay=decay)
    return keras.optimizers.AdamW(schedule, weight_decay=optim.weight_decay)
