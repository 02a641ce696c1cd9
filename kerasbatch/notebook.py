"""The learner and the sweep as a Keras user calls them: a model-building function and arrays.

::

    import kerasbatch
    suggestion = kerasbatch.suggest(build_model, x, y, validation_data=(x_val, y_val), target=0.9)
    suggestion.batch_size, suggestion.learning_rate, suggestion.table   # the table is a DataFrame
    table = kerasbatch.sweep(build_model, x, y, validation_data=(x_val, y_val), batch_sizes=(32, 256))

The arrays and the function go through the same store as any run: the arrays are named by a
fingerprint of their content and the function by its pickled code (``arrays:…``, ``builder:…``), and a
run folder records the arrays' shapes, so a rerun with other data or another model is refused rather
than silently mixed into the study. Any other setting of :class:`~kerasbatch.config.run.RunConfig` is a
keyword, spelled as on the command line (``epochs=3``, ``optimizer="adam"``, ``learning_rate=1e-3``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kerasbatch.config import run as cfg
from kerasbatch.config.commands import StoreConfig, SweepConfig
from kerasbatch.store import Store


def suggest(build_fn: Callable, x, y=None, *, validation_data=None, test_data=None, out: str | Path = "runs",
            study: str | None = None, progress: bool = True, budget_seconds: float = 120.0,
            baseline_batch: int = 32, candidates: tuple[int, ...] = (), run_suggestion: bool = False,
            **settings: Any):
    """The batch size and learning rate that reach ``target`` soonest for ``build_fn`` on ``(x, y)``.

    ``x, y`` are arrays, or ``x`` is a finite ``tf.data.Dataset`` of ``(x, y)`` pairs; ``validation_data``
    and ``test_data`` a pair or such a dataset.

    Returns a :class:`~kerasbatch.learner.suggest.Suggestion` (``.batch_size``, ``.learning_rate``,
    ``.noise_scale``, ``.predicted_speedup``, and ``.table``, the predicted curve as a DataFrame).
    ``settings`` are run settings by their flag names; ``target`` defaults to 0.95.
    """
    from kerasbatch.config.learner import SuggestConfig
    from kerasbatch.learner.suggest import suggest as suggest_api

    settings.setdefault("target", 0.95)
    run = _run(build_fn, x, y, validation_data, test_data, settings)
    config = SuggestConfig(run=run, budget_seconds=budget_seconds, baseline_batch=baseline_batch,
                           candidates=tuple(candidates), run_suggestion=run_suggestion)
    say = print if progress else None
    return suggest_api(config, _store(out, study, run, "suggest"), progress=say)


def sweep(build_fn: Callable, x, y=None, *, validation_data=None, test_data=None,
          batch_sizes: tuple[int, ...] = cfg.DEFAULT_BATCH_SIZES, out: str | Path = "runs", study: str | None = None,
          progress: bool = True, **settings: Any):
    """Train ``build_fn`` on ``(x, y)`` (arrays, or ``x`` a ``tf.data.Dataset`` of pairs, as for
    :func:`suggest`) once per batch size; the study table as a pandas DataFrame."""
    from kerasbatch.reports import tables
    from kerasbatch.studies.progress import StudyProgress
    from kerasbatch.studies.sweep import sweep as sweep_api

    run = _run(build_fn, x, y, validation_data, test_data, settings)
    config = SweepConfig(run=run, batch_sizes=tuple(batch_sizes))
    store = _store(out, study, run, "sweep")
    display = StudyProgress(len(config.batch_sizes), live=False) if progress else None
    if display is not None:
        with display:
            results = sweep_api(config, store, progress=display)
    else:
        results = sweep_api(config, store)
    frame = tables.study_table(store.study_dir)
    return frame[frame["run_id"].isin([r.run_id for r in results])].reset_index(drop=True)


def _run(build_fn: Callable, x, y, validation_data, test_data, settings: dict[str, Any]) -> cfg.RunConfig:
    from kerasbatch.data.arrays import register_arrays
    from kerasbatch.models.builders import register_builder

    dataset = register_arrays(x, y, validation_data=validation_data, test_data=test_data)
    return cfg.RunConfig.from_flat({"dataset": dataset, "model": register_builder(build_fn), **settings})


def _store(out: str | Path, study: str | None, run: cfg.RunConfig, verb: str) -> Store:
    """The named study, or one named after the function and the data: ``build_model-3f9a…-sweep``."""
    if study is None:
        function = run.model.name.split(":", 1)[1].rsplit("-", 1)[0]
        study = f"{function}-{run.data.dataset.split(':', 1)[1][:8]}-{verb}"
    return Store(out, StoreConfig(out=out, study=study).study)
