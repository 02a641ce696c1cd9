"""Run settings: defaults, validation naming the field, flat flag names, the identity."""

import pytest

from kerasbatch.config.run import DataConfig, OptimConfig, RunConfig
from kerasbatch.errors import ConfigError


def test_defaults_are_valid_and_round_trip_through_dict():
    config = RunConfig(batch_size=64, target=0.9)
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("bad", [0, -3, 2.5, "64", True])
def test_batch_size_must_be_a_positive_integer(bad):
    with pytest.raises(ConfigError, match="batch_size"):
        RunConfig(batch_size=bad)


@pytest.mark.parametrize("field, value", [("precision", "float8"), ("epochs", 0), ("target", 1.5), ("seed", -1),
                                          ("micro_batches", 1), ("diagnostics", "gns,wobble")])
def test_bad_run_values_name_their_field(field, value):
    with pytest.raises(ConfigError, match=field):
        RunConfig(**{field: value})


def test_stop_at_target_needs_a_target():
    with pytest.raises(ConfigError, match="stop_at_target"):
        RunConfig(stop_at_target=True)


def test_optim_rejects_unknown_names():
    with pytest.raises(ConfigError, match="optimizer"):
        OptimConfig(optimizer="lion")
    with pytest.raises(ConfigError, match="lr_scaling"):
        OptimConfig(lr_scaling="cubic")


@pytest.mark.parametrize("rule, expected", [("none", 0.1), ("linear", 0.8), ("sqrt", 0.1 * 8 ** 0.5)])
def test_learning_rate_scaling_rules(rule, expected):
    optim = OptimConfig(learning_rate=0.1, base_batch=32, lr_scaling=rule)
    assert optim.scaled_learning_rate(256) == pytest.approx(expected)


def test_from_flat_maps_flag_names_onto_sections():
    config = RunConfig.from_flat({"dataset": "dots", "model": "cnn", "widths": "8,4", "learning_rate": 0.3,
                                  "batch_size": 16, "epochs": None})
    assert config.data.dataset == "dots"
    assert config.model.name == "cnn" and config.model.widths == (8, 4)
    assert config.optim.learning_rate == 0.3 and config.batch_size == 16
    assert config.epochs == RunConfig().epochs


def test_from_flat_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="'batchsize'"):
        RunConfig.from_flat({"batchsize": 3})


def test_identity_leaves_out_where_the_data_lives():
    a = RunConfig(data=DataConfig(dataset="tfds:mnist", data_dir="/a", download=True))
    b = RunConfig(data=DataConfig(dataset="tfds:mnist", data_dir="/b"))
    assert a.identity() == b.identity()
    assert a.to_dict() != b.to_dict()


def test_noise_scale_rule_needs_a_noise_scale():
    with pytest.raises(ConfigError, match="noise needs a noise_scale"):
        OptimConfig(lr_scaling="noise")
    with pytest.raises(ConfigError, match="noise_scale must be a number"):
        OptimConfig(lr_scaling="noise", noise_scale=-3.0)
