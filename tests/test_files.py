"""Small modules with one job each: no Python file of the project grows past 300 lines."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 300


def test_every_python_file_is_at_most_300_lines():
    files = [p for folder in ("kerasbatch", "tests", "benchmarks", "experiments") for p in (ROOT / folder).rglob("*.py")]
    assert len(files) > 100  # the whole tree was read
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}, f"over {LIMIT} lines: {long}"
