"""Parsing lists and reading YAML files."""

import pytest

from kerasbatch.config.checks import load_yaml, parse_int_list
from kerasbatch.config.run import parse_diagnostics
from kerasbatch.errors import ConfigError


def test_parse_lists():
    assert parse_int_list("batch_sizes", "32, 64,128") == (32, 64, 128)
    with pytest.raises(ConfigError, match="integers"):
        parse_int_list("batch_sizes", "32,x")
    assert parse_diagnostics("none") == ()
    assert parse_diagnostics("all") == parse_diagnostics(["gns", "grad_norm", "weight_distance", "step_time", "loss_scale"])


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
