"""The sweep and store settings."""

import pytest

from kerasbatch.config.commands import StoreConfig, SweepConfig
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import ConfigError
from kerasbatch.training import train


def test_sweep_sorts_and_rejects_repeats():
    assert SweepConfig(batch_sizes=(256, 32)).batch_sizes == (32, 256)
    with pytest.raises(ConfigError, match="repeat"):
        SweepConfig(batch_sizes=(32, 32))
    with pytest.raises(ConfigError, match="batch_sizes"):
        SweepConfig(batch_sizes=(32, 0))


def test_study_name_must_be_a_plain_folder():
    with pytest.raises(ConfigError, match="study"):
        StoreConfig(study="../x")


def test_a_sweep_trains_the_schedule_beside_the_fixed_sizes():
    sweep = SweepConfig(run=RunConfig(batch_schedule="adaptive"), batch_sizes=(256, 32, 64))
    runs = sweep.runs()
    assert [(r.batch_schedule, r.batch_size, r.max_batch) for r in runs] == [
        ("fixed", 32, None), ("fixed", 64, None), ("fixed", 256, None), ("adaptive", 32, 256)]
    assert [train.run_id_for(r) for r in runs] == ["bs32", "bs64", "bs256", "adaptive_bs32"]
