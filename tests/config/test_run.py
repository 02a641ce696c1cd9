import pytest

from kerasbatch.config.checks import load_yaml, parse_int_list
from kerasbatch.config.commands import StoreConfig, SweepConfig
from kerasbatch.config.run import DataConfig, OptimConfig, RunConfig, parse_diagnostics
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


def test_sweep_sorts_and_rejects_repeats():
    assert SweepConfig(batch_sizes=(256, 32)).batch_sizes == (32, 256)
    with pytest.raises(ConfigError, match="repeat"):
        SweepConfig(batch_sizes=(32, 32))
    with pytest.raises(ConfigError, match="batch_sizes"):
        SweepConfig(batch_sizes=(32, 0))


def test_parse_lists():
    assert parse_int_list("batch_sizes", "32, 64,128") == (32, 64, 128)
    with pytest.raises(ConfigError, match="integers"):
        parse_int_list("batch_sizes", "32,x")
    assert parse_diagnostics("none") == ()
    assert parse_diagnostics("all") == parse_diagnostics(["gns", "grad_norm", "weight_distance", "step_time", "loss_scale"])


def test_study_name_must_be_a_plain_folder():
    with pytest.raises(ConfigError, match="study"):
        StoreConfig(study="../x")


def test_yaml_loading(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("dataset: dots\nbatch-size: 16\n")
    assert load_yaml(good) == {"dataset": "dots", "batch_size": 16}
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [dots\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(listing)


def test_noise_scale_rule_is_linear_below_the_noise_scale_and_flat_above():
    optim = OptimConfig(learning_rate=0.1, lr_scaling="noise", noise_scale=1000.0, base_batch=32)
    # Far below B_noise = 1000 the rule doubles the rate with the batch, like the linear rule …
    assert optim.scaled_learning_rate(64) / optim.scaled_learning_rate(32) == pytest.approx(2.0, rel=0.04)
    # … and far above it the rate stops growing: ε_max = 0.1 * (1 + 1000/32).
    assert optim.scaled_learning_rate(10**7) == pytest.approx(0.1 * (1 + 1000 / 32), rel=1e-3)
    # Around B_noise it grows by less than the batch: ×1.33 for 1024 → 2048.
    assert optim.scaled_learning_rate(2048) / optim.scaled_learning_rate(1024) == pytest.approx(1.328, abs=1e-3)
    assert optim.scaled_learning_rate(32) == pytest.approx(0.1)


def test_noise_scale_rule_needs_a_noise_scale():
    with pytest.raises(ConfigError, match="noise needs a noise_scale"):
        OptimConfig(lr_scaling="noise")
    with pytest.raises(ConfigError, match="noise_scale must be a number"):
        OptimConfig(lr_scaling="noise", noise_scale=-3.0)
