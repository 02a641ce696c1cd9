"""A model-building function handed over in Python (a notebook's ``build_model``) as a model name.

:func:`register_builder` names a function ``builder:<qualname>-<digest>``, where the digest is taken
from the function pickled by value (its code and what it refers to): the same function gets the same
name in every session, an edited one a new name, so a study refuses a changed model instead of mixing
it in. A pickled copy goes to the user's cache folder, where profiling processes find it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from kerasbatch.errors import ConfigError
from kerasbatch.store import cache_dir

_REGISTERED: dict[str, Callable] = {}


def register_builder(fn: Callable) -> str:
    """The model name of ``fn``, usable in any config: ``builder:<qualname>-<digest>``."""
    import cloudpickle

    if not callable(fn):
        raise ConfigError(f"a model builder must be callable, got {type(fn).__name__}")
    payload = cloudpickle.dumps(fn)
    qualname = getattr(fn, "__qualname__", type(fn).__name__).replace("<", "").replace(">", "")
    name = f"builder:{qualname}-{hashlib.blake2b(payload, digest_size=6).hexdigest()}"
    _REGISTERED[name] = fn
    path = _cached(name)
    if not path.is_file():
        from kerasbatch.store import atomic_path, make_dir

        make_dir(path.parent)
        with atomic_path(path) as tmp:
            tmp.write_bytes(payload)
    return name


def load_builder(name: str) -> Callable:
    """The function registered as ``name``: from this process, else unpickled from the cache folder."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    path = _cached(name)
    if not path.is_file():
        raise ConfigError(f"model {name!r} is not registered in this process or in {str(path.parent)!r}; "
                          "pass the build function again")
    import cloudpickle

    _REGISTERED[name] = cloudpickle.loads(path.read_bytes())
    return _REGISTERED[name]


def _cached(name: str) -> Path:
    return cache_dir() / "builders" / f"{name.split(':', 1)[1]}.pkl"
