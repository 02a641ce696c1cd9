"""What each batch schedule asks of the rest of the run's settings."""

import pytest

from kerasbatch.config.run import RunConfig
from kerasbatch.errors import ConfigError


def test_batch_schedule_settings_are_checked():
    with pytest.raises(ConfigError, match="gns"):
        RunConfig(batch_schedule="adaptive", diagnostics="none")
    with pytest.raises(ConfigError, match="schedule step"):
        RunConfig(batch_schedule="increase")
    with pytest.raises(ConfigError, match="max_batch"):
        RunConfig(batch_size=64, max_batch=32)
