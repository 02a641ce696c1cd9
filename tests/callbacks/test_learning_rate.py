"""The learning rate an epoch logs."""

import keras
import numpy as np
import pytest

from kerasbatch.callbacks import LearningRateLog
from kerasbatch.optim.schedules import WarmupSchedule


def test_learning_rate_log_reports_the_rate_of_the_last_step():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    schedule = WarmupSchedule(peak_lr=1.0, total_steps=100, warmup_steps=10, start_lr=0.0)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    model.fit(np.ones((4, 1)), np.ones((4, 1)), batch_size=1, epochs=1, verbose=0)  # 4 steps: 0..3
    log = LearningRateLog()
    log.set_model(model)
    logs = {}
    log.on_epoch_end(0, logs)
    assert logs["lr"] == pytest.approx(0.3)
    assert "loss_scale" not in logs
