"""Sweep: the same model trained once per batch size, every other setting equal.

A sweep is safe to run again: finished runs are kept and skipped, an interrupted one is redone.
TensorFlow is imported when a sweep runs, not with this module (``import kerasbatch`` stays cheap).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import RunConfig
from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import Store

if TYPE_CHECKING:
    from kerasbatch.training import train


def settings(config: SweepConfig) -> dict:
    """What every run of the study shares (the batch size is what varies)."""
    shared = config.run.identity()
    shared.pop("batch_size")
    return shared


def sweep(config: SweepConfig, store: Store, *, progress: StudyProgress | None = None,
          verbose: int = 0) -> list[train.RunResult]:
    """Train ``config.run`` at every batch size of ``config.batch_sizes`` into ``store``.

    Everything is checked (data, model, every batch size, the study's earlier settings) before the
    first run starts, so a mistake costs nothing and writes nothing.

    Args:
        config: the sweep.
        store: the study folder.
        progress: the display to keep up to date (run i/N, epoch, one line per run); ``None`` for silence.
        verbose: Keras's own per-epoch output inside each run (0 for none, 2 for a line per epoch).
    """
    from kerasbatch.training import train

    runs = config.runs()
    for index, run_config in enumerate(runs):
        train.validate(run_config, model=index == 0)  # one model serves every batch size
        store.check_run(train.run_id_for(run_config), run_config.identity())
    store.claim_study("sweep", settings(config))
    results = []
    for index, run_config in enumerate(runs, start=1):
        results.append(tracked_run(run_config, store, progress, index=index, verbose=verbose))
        results[-1].model = None  # let the model go: a sweep keeps summaries, not networks
    return results


def tracked_run(config: RunConfig, store: Store, progress: StudyProgress | None, *, index: int = 1,
                run_id: str | None = None, verbose: int = 0, extra: dict | None = None,
                label: str | None = None) -> train.RunResult:
    """:func:`train.run` with ``progress`` kept up to date: the run started, each epoch, one line at the end
    (or the stored run's line, when it had finished before). ``extra`` goes into the run's summary (a
    study's arm); ``label`` names the run on the display instead of ``[i/N]``."""
    from kerasbatch.training import train

    if progress is None:
        return train.run(config, store, run_id, verbose=verbose, extra=extra)
    if store.is_complete(run_id or train.run_id_for(config)):
        result = train.run(config, store, run_id, verbose=verbose, extra=extra)
        progress.skip_run(index, train.describe(result), label=label)
        return result
    progress.start_run(index, config.batch_size, config.epochs, learning_rate=config.learning_rate, label=label)
    result = train.run(config, store, run_id, verbose=verbose, extra=extra, callbacks=[progress.callback()])
    progress.finish_run(train.describe(result))
    return result
