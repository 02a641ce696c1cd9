"""Every file under experiments/ builds the config its command runs: sweep and tune files through their
command's own parser, study files (both their full and their --quick form) through the study loader."""

import re
from pathlib import Path

import pytest

from kerasbatch.cli import app as cli
from kerasbatch.config import commands as command_config
from kerasbatch.config import run as config
from kerasbatch.errors import KerasbatchError
from kerasbatch.config.study import StudyConfig, load_study

FOLDER = Path(__file__).parents[2] / "experiments"
EXPERIMENTS = sorted([*FOLDER.glob("*.yaml"), *FOLDER.glob("*.yml")])
CONFIG_TYPES = {"train": config.RunConfig, "sweep": command_config.SweepConfig, "tune": command_config.TuneConfig}


def command_of(path: Path) -> str:
    """The command the file's own usage line names: ``kerasbatch sweep --config experiments/NAME`` or
    ``kerasbatch study experiments/NAME``; a file without one fails here, by name."""
    name = re.escape(path.name)
    found = re.search(rf"kerasbatch (\w+) (?:--config )?experiments/{name}", path.read_text())
    assert found, f"{path.name} has no usage line 'kerasbatch COMMAND [--config] experiments/{path.name}'"
    return found.group(1)


def build(path: Path, quick: bool = False):
    command = command_of(path)
    if command == "study":
        return load_study(path, quick=quick)
    return cli.build_config(command, ["--config", str(path)])


def test_there_are_studies():
    assert len(EXPERIMENTS) >= 3
    assert any(command_of(path) == "study" for path in EXPERIMENTS)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_builds_the_config_its_command_runs(path):
    command = command_of(path)
    built = build(path)
    if command == "study":
        quick = build(path, quick=True)
        assert isinstance(built, StudyConfig) and isinstance(quick, StudyConfig)
        assert quick.repeats <= built.repeats and quick.name == built.name + "-quick"
        assert len(list(quick.runs())) == len(quick.arms) * len(quick.batch_sizes) * quick.repeats
    else:
        assert isinstance(built, CONFIG_TYPES[command])


@pytest.mark.parametrize("command", ["sweep", "study"])
def test_a_file_that_stops_building_fails(tmp_path, command):
    source = next(path for path in EXPERIMENTS if command_of(path) == command)
    broken = tmp_path / source.name
    broken.write_text(source.read_text() + "\nlearning_rate: -1\n")
    with pytest.raises(KerasbatchError, match="learning_rate must be a number"):
        build(broken)


def test_a_study_whose_quick_block_stops_building_fails(tmp_path):
    source = next(path for path in EXPERIMENTS if command_of(path) == "study")
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace("quick:\n", "quick:\n  dots_noise: -1\n", 1))
    build(broken)  # the full form is still fine
    with pytest.raises(KerasbatchError, match="dots_noise must be a number"):
        build(broken, quick=True)
