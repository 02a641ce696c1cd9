"""Small validators and parsers for settings: each failure is a :class:`ConfigError` naming the setting.

TensorFlow-free; used by :mod:`kerasbatch.config.run` and the CLI.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kerasbatch.errors import ConfigError


def check(condition: bool, name: str, message: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{name} {message}, got {value!r}")


def positive_int(name: str, value: Any) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    check(ok, name, "must be a positive integer", value)


def number(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value <= high
    bounds = f"{'(' if open_low else '['}{low:g}, {high:g}]"
    check(ok, name, f"must be a number in {bounds}", value)


def choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    check(value in choices, name, f"must be one of {', '.join(choices)}", value)


def int_tuple(name: str, value: Any) -> tuple[int, ...]:
    """Accept ``(32, 64)``, ``[32, 64]`` or ``"32,64"``; every item a positive integer."""
    items = parse_int_list(name, value) if isinstance(value, str) else value
    check(isinstance(items, (tuple, list)) and len(items) > 0, name, "must be a non-empty list", value)
    for item in items:
        positive_int(name, item)
    return tuple(items)


def parse_int_list(name: str, text: str) -> tuple[int, ...]:
    """Parse ``"32,64,128"`` into ``(32, 64, 128)``; anything else is a :class:`ConfigError`."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"{name} must be a comma-separated list of integers, got {text!r}") from None
    return int_tuple(name, values) if values else int_tuple(name, ())


def parse_float_pair(name: str, text: str) -> tuple[float, float]:
    """Parse ``"1e-3,1"`` into ``(0.001, 1.0)``."""
    try:
        values = tuple(float(p) for p in str(text).split(","))
    except ValueError:
        raise ConfigError(f"{name} must be two numbers low,high, got {text!r}") from None
    check(len(values) == 2, name, "must be two numbers low,high", text)
    return values


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a flat dict with underscore keys."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of setting: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def plain(value: Any) -> Any:
    """JSON-ready copy: tuples → lists, paths → strings."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
