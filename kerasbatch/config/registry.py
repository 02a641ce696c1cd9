"""Registry entries name their code as ``"module:attribute"`` and import it on first use.

So a registry can list what needs TensorFlow (a callback, a training plan) while the registry itself,
read by ``--help`` and by config validation, imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any


def resolve(path: str) -> Any:
    """The object ``path`` (``"package.module:attribute"``) names, imported now."""
    module, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:  # a registry line that names nothing is a bug: say which
        raise ImportError(f"registry entry {path!r} names nothing importable: {exc}") from exc
