"""The study files under experiments/ and the command each one names."""

import re
from pathlib import Path


FOLDER = Path(__file__).parents[1] / "experiments"
EXPERIMENTS = sorted([*FOLDER.glob("*.yaml"), *FOLDER.glob("*.yml")])


def command_of(path: Path) -> str:
    """The command the file's own usage line names: ``kerasbatch sweep --config experiments/NAME`` or
    ``kerasbatch study experiments/NAME``; a file without one fails here, by name."""
    name = re.escape(path.name)
    found = re.search(rf"kerasbatch (\w+) (?:--config )?experiments/{name}", path.read_text())
    assert found, f"{path.name} has no usage line 'kerasbatch COMMAND [--config] experiments/{path.name}'"
    return found.group(1)
