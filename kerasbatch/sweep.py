"""Sweep: the same model trained once per batch size, every other setting equal.

A sweep is safe to run again: finished runs are kept and skipped, an interrupted one is redone.
"""

from __future__ import annotations

from typing import Callable

from kerasbatch import train
from kerasbatch.config import SweepConfig
from kerasbatch.store import Store

Progress = Callable[[str], None]


def settings(config: SweepConfig) -> dict:
    """What every run of the study shares (the batch size is what varies)."""
    shared = config.run.identity()
    shared.pop("batch_size")
    return shared


def sweep(config: SweepConfig, store: Store, *, progress: Progress | None = None, verbose: int = 2) -> list[train.RunResult]:
    """Train ``config.run`` at every batch size of ``config.batch_sizes`` into ``store``.

    Everything is checked (data, model, every batch size, the study's earlier settings) before the
    first run starts, so a mistake costs nothing and writes nothing.

    Args:
        config: the sweep.
        store: the study folder.
        progress: called with one line per run (``[3/6] batch 128 …``); ``None`` for silence.
        verbose: Keras's per-epoch progress inside each run (0 for none).
    """
    runs = config.runs()
    for index, run_config in enumerate(runs):
        train.validate(run_config, model=index == 0)  # one model serves every batch size
        store.check_run(train.run_id_for(run_config), run_config.identity())
    store.claim_study("sweep", settings(config))
    results = []
    for index, run_config in enumerate(runs, start=1):
        if progress is not None and not store.is_complete(train.run_id_for(run_config)):
            progress(f"[{index}/{len(runs)}] batch {run_config.batch_size}, lr {run_config.learning_rate:.4g} …")
        result = train.run(run_config, store, verbose=verbose)
        results.append(result)
        if progress is not None:
            progress(f"[{index}/{len(runs)}] {train.describe(result)}")
        result.model = None  # let the model go: a sweep keeps summaries, not networks
    return results

