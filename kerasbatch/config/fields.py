"""How a setting is declared once (type, default, help, choices) and a config built from loose values.

:func:`setting` puts the help text and choices in the field's metadata, where the CLI finds them;
:func:`build` makes a config from a mapping (YAML, JSON, flags) and rejects unknown keys by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field, fields
from typing import Any, Mapping

from kerasbatch.config.checks import choice
from kerasbatch.errors import ConfigError


def check_choices(config: Any) -> None:
    """Check every field declared with ``choices`` (see :func:`setting`)."""
    for f in fields(config):
        if f.metadata.get("choices"):
            choice(f.name, getattr(config, f.name), f.metadata["choices"])

def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING,
            choices: tuple[str, ...] | None = None, identity: bool = True, aliases: tuple[str, ...] = ()) -> Any:
    """A dataclass field with its help text (and choices) for the CLI.

    ``identity=False`` leaves the setting out of what makes two runs the same run (where data lives);
    ``aliases`` are more flags for it (``--max`` for ``--find-max``).
    """
    metadata = {"help": help, "choices": choices, "identity": identity, "aliases": aliases}
    return field(default=default, default_factory=factory, metadata=metadata)

def section_fields(cls: type, section: str, rename: Mapping[str, str] = {}) -> dict[str, tuple[str, str]]:
    return {rename.get(f.name, f.name): (section, f.name) for f in fields(cls)}

def build(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting {prefix}{unknown[0]!r}")
    coerced = {k: coerce(known[k], v) for k, v in values.items()}
    return cls(**coerced)

def coerce(f: dataclasses.Field, value: Any) -> Any:
    """Turn the loose types YAML and JSON give into the declared ones (lists → tuples, 1 → 1.0)."""
    kind = str(f.type)
    if "tuple" in kind and isinstance(value, list):
        return tuple(value)
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind.startswith("bool") and not isinstance(value, bool):
        raise ConfigError(f"{f.name} must be true or false, got {value!r}")
    return value
