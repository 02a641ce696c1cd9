"""Every study config under experiments/ builds, through its command's own parser, the config it runs."""

import re
from pathlib import Path

import pytest

from kerasbatch import cli, config
from kerasbatch.errors import KerasbatchError

EXPERIMENTS = sorted((Path(__file__).parent.parent / "experiments").glob("*.yaml"))
CONFIG_TYPES = {"train": config.RunConfig, "sweep": config.SweepConfig, "tune": config.TuneConfig}


def command_of(path: Path) -> str:
    """The command the file's own usage line names: ``kerasbatch sweep --config experiments/NAME``."""
    return re.search(r"kerasbatch (\w+) --config experiments/" + re.escape(path.name), path.read_text()).group(1)


def test_there_are_studies():
    assert len(EXPERIMENTS) >= 3


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_builds_the_config_its_command_runs(path):
    command = command_of(path)
    built = cli.build_config(command, ["--config", str(path)])
    assert isinstance(built, CONFIG_TYPES[command])


def test_a_config_that_stops_building_fails(tmp_path):
    broken = tmp_path / "broken.yaml"
    source = EXPERIMENTS[0]
    broken.write_text(source.read_text() + "\nlearning_rate: -1\n")
    with pytest.raises(KerasbatchError, match="learning_rate must be a number"):
        cli.build_config(command_of(source), ["--config", str(broken)])
