"""The run store: one folder per run, every file written atomically, ``summary.json`` last.

Layout::

    <out>/<study>/study.json              what kind of study this is and its shared settings
    <out>/<study>/<run_id>/config.json    the RunConfig that rebuilds the run
    <out>/<study>/<run_id>/history.csv    one row per epoch
    <out>/<study>/<run_id>/model.keras    the trained model
    <out>/<study>/<run_id>/tb/            TensorBoard scalars
    <out>/<study>/<run_id>/summary.json   written last: a run without it is incomplete

Every file goes to a temporary name in the same folder and is ``os.replace``d into place, so a process
killed at any moment leaves either the old file or the new one, never half of one. A run folder without
``summary.json`` is incomplete and is cleared and redone by the next attempt.

This module must stay free of TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from kerasbatch.errors import StoreError

SUMMARY = "summary.json"
CONFIG = "config.json"
HISTORY = "history.csv"
MODEL = "model.keras"
STUDY = "study.json"
PROFILE = "profile.json"  # kerasbatch profile's measurements, in the study folder
SUGGESTION = "suggestion.json"  # kerasbatch suggest's answer, in the study folder
TENSORBOARD = "tb"
RESERVED = ("plots", "keras_tuner")  # folders a study keeps beside its runs


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes owner-only files; results are meant to be shared, so give them the usual mode.
_FILE_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    The temporary name keeps ``path``'s suffix, because some writers (``model.save``) insist on it.
    On failure the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    except OSError as exc:
        raise StoreError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise StoreError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())


def write_npz(path: str | Path, **arrays: Any) -> None:
    import numpy as np

    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(to_json(data), indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    with open(path) as fh:
        return json.load(fh)


def to_json(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become ``null`` (JSON has no NaN), numpy scalars become floats."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_dir(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents); a folder that cannot be made is the user's to fix."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {str(folder)!r}: {exc.strerror or exc}") from None
    return folder


def check_writable(folder: str | Path) -> None:
    """Fail early, before anything is written, when ``folder`` cannot be created or written."""
    folder = Path(folder).absolute()
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise StoreError(f"cannot write to {str(folder)!r}: {str(probe)!r} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write to {str(folder)!r}: permission denied")


class Store:
    """A study folder ``<out>/<study>`` holding one folder per run."""

    def __init__(self, out: str | Path, study: str) -> None:
        self.study_dir = Path(out) / study

    @classmethod
    def from_dir(cls, study_dir: str | Path) -> Store:
        """The store of an existing study folder ``<out>/<study>``."""
        study_dir = Path(study_dir)
        return cls(study_dir.parent, study_dir.name)

    def run_dir(self, run_id: str) -> Path:
        # A run id names one folder inside the study, never a path out of it or a folder of the study's own.
        if not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id or run_id in RESERVED:
            raise StoreError(f"run id must be a plain folder name other than {', '.join(RESERVED)}, got {run_id!r}")
        return self.study_dir / run_id

    def is_complete(self, run_id: str) -> bool:
        return (self.run_dir(run_id) / SUMMARY).is_file()

    def run_ids(self, complete_only: bool = True) -> list[str]:
        if not self.study_dir.is_dir():
            return []
        # A run folder starts with its config.json; other folders (plots/, a tuner's own state) are not runs.
        ids = sorted(p.name for p in self.study_dir.iterdir() if (p / CONFIG).is_file())
        return [i for i in ids if self.is_complete(i)] if complete_only else ids

    # -- the study manifest -------------------------------------------------------------------------

    def read_study(self) -> dict[str, Any] | None:
        path = self.study_dir / STUDY
        return read_json(path) if path.is_file() else None

    def claim_study(self, kind: str, settings: dict[str, Any]) -> None:
        """Record what this study is, or check that it is what an earlier command made it.

        ``settings`` are the shared settings that every run of the study must agree on; a second
        command with other settings is refused rather than mixing two experiments in one table.
        """
        existing = self.read_study()
        manifest = to_json({"kind": kind, "settings": settings})
        if existing is not None:
            if existing.get("kind") != kind:
                raise StoreError(
                    f"study {str(self.study_dir)!r} is a {existing.get('kind')} study; "
                    f"use another --study for a {kind}"
                )
            if existing.get("settings") != manifest["settings"]:
                key = _first_difference(existing.get("settings"), manifest["settings"])
                raise StoreError(
                    f"study {str(self.study_dir)!r} was run with different settings ({key}); "
                    "use another --study or the same settings"
                )
            return
        make_dir(self.study_dir)
        write_json(self.study_dir / STUDY, manifest)

    # -- one run ------------------------------------------------------------------------------------

    def check_run(self, run_id: str, identity: dict[str, Any]) -> bool:
        """True when the run is already complete with these settings; error if it differs."""
        config_path = self.run_dir(run_id) / CONFIG
        if not self.is_complete(run_id) or not config_path.is_file():
            return False
        stored = read_json(config_path).get("identity")
        if stored != to_json(identity):
            key = _first_difference(stored, to_json(identity))
            raise StoreError(
                f"run {str(self.run_dir(run_id))!r} exists with different settings ({key}); "
                "use another --study or the same settings"
            )
        return True

    def begin_run(self, run_id: str, config: dict[str, Any], identity: dict[str, Any]) -> Path:
        """Clear any incomplete attempt and start the run folder with its ``config.json``."""
        folder = self.run_dir(run_id)
        if folder.exists():
            if not (folder / CONFIG).is_file():
                raise StoreError(f"{str(folder)!r} exists and is not a run folder; use another run id")
            shutil.rmtree(folder)
        make_dir(folder)
        write_json(folder / CONFIG, {"config": config, "identity": identity})
        return folder

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        """Write ``summary.json``: the moment the run counts as done."""
        write_json(self.run_dir(run_id) / SUMMARY, summary)

    def read_summary(self, run_id: str) -> dict[str, Any]:
        return read_json(self.run_dir(run_id) / SUMMARY)

    def read_config(self, run_id: str) -> dict[str, Any]:
        return read_json(self.run_dir(run_id) / CONFIG)["config"]


def _first_difference(old: Any, new: Any, prefix: str = "") -> str:
    """Name the first setting that differs, e.g. ``optim.learning_rate: 0.01 → 0.1``."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {old!r} → {new!r}" if prefix else f"{old!r} → {new!r}"


def cache_dir() -> Path:
    """Where generated sets are kept: ``$KERASBATCH_CACHE``, else the user's cache folder."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("KERASBATCH_CACHE") or user_cache_dir("kerasbatch"))
