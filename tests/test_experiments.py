"""Every study config under experiments/ names its command and builds a valid config for it."""

import re
from pathlib import Path

import click
import pytest

from kerasbatch import cli, config

EXPERIMENTS = sorted((Path(__file__).parent.parent / "experiments").glob("*.yaml"))


def test_there_are_studies():
    assert len(EXPERIMENTS) >= 3


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_builds_a_config_for_its_command(path):
    command = re.search(r"kerasbatch (\w+) --config experiments/" + re.escape(path.name), path.read_text()).group(1)
    params = {p.name for p in cli.cli.commands[command].params} - {"config_file"}
    settings = cli._settings({"config_file": str(path)}, params)
    run = cli._run_config(settings)
    if command == "sweep":
        config.SweepConfig(run=run, batch_sizes=tuple(settings["batch_sizes"]))
    elif command == "tune":
        keys = ("tuner", "max_trials", "batch_sizes", "lr_range", "objective")
        config.TuneConfig(run=run, **{k: settings[k] for k in keys if k in settings})
    assert isinstance(cli.cli.commands[command], click.Command) and settings["study"]
