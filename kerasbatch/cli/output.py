"""What the commands that train print: the progress display, the compact table, the study folder.

TensorFlow-free at import time; :func:`display` imports TensorFlow (quietly) when a command starts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from kerasbatch.config import run as cfg
from kerasbatch.config.commands import StoreConfig


def output_mode(params: dict[str, Any]) -> tuple[bool, bool]:
    """``(quiet, verbose)``, which exclude each other."""
    quiet, verbose = bool(params.get("quiet")), bool(params.get("verbose"))
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    return quiet, verbose


def display(params: dict[str, Any], runs: int):
    """The progress display of a command that trains ``runs`` runs, or ``None`` with ``--quiet``.

    Live on a terminal, plain lines elsewhere; beside Keras's own epoch lines with ``--verbose``.
    TensorFlow is imported here, with its load-time chatter kept off the console.
    """
    from kerasbatch.studies.progress import StudyProgress
    from kerasbatch.cli.quiet_import import import_tensorflow_quietly

    quiet, verbose = output_mode(params)
    import_tensorflow_quietly()
    return None if quiet else StudyProgress(runs, live=False if verbose else None, epoch_lines=not verbose)


def study_store(params: dict[str, Any], run: cfg.RunConfig, suffix: str = ""):
    """The study the command writes to (``--out``/``--study``), checked writable before anything runs."""
    from kerasbatch.store import Store, check_writable

    store_config = StoreConfig(out=params["out"], study=params["study"] or default_study(run) + suffix)
    check_writable(store_config.study_dir)
    return Store(store_config.out, store_config.study)


def default_study(run: cfg.RunConfig) -> str:
    """``digits-mlp``, ``tfds-mnist-cnn``: a readable study name from the dataset and model."""
    dataset = Path(run.data.dataset.split(":", 1)[-1]).stem if run.data.dataset.startswith("npz:") else run.data.dataset
    model = run.model.name.split(":")[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dataset}-{model}").strip("-")


def print_table(study_dir: Path, run_ids: list[str]) -> None:
    """The compact table of the runs just trained (or found finished)."""
    from kerasbatch.reports import tables

    frame = tables.study_table(study_dir)
    click.echo(tables.render_key(frame[frame["run_id"].isin(run_ids)]))
