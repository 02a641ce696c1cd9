"""The optimizers by name, with their settings."""

import keras
import pytest

from kerasbatch.config.run import OptimConfig
from kerasbatch.optim.optimizers import make_optimizer
from kerasbatch.optim.schedules import make_schedule


@pytest.mark.parametrize("name, cls", [("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam),
                                       ("adamw", keras.optimizers.AdamW)])
def test_optimizers(name, cls):
    optim = OptimConfig(optimizer=name, weight_decay=1e-4, nesterov=True)
    optimizer = make_optimizer(optim, make_schedule(optim, 32, 10, 1))
    assert type(optimizer) is cls
    assert optimizer.weight_decay == pytest.approx(1e-4)
    if name == "sgd":
        assert optimizer.nesterov and optimizer.momentum == pytest.approx(0.9)
