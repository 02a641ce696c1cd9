"""Comparison tables: one row per finished run of a study, built with pandas.

TensorFlow-free: comparing finished runs needs only their ``summary.json`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from kerasbatch.errors import KerasbatchError
from kerasbatch.store import Store

FORMATS = ("markdown", "csv", "html", "json", "latex")

# What a run costs and what it measured, in the order both tables show them.
_COST_AND_DIAGNOSTICS = ("samples_per_second", "train_seconds", "grad_norm", "gns", "weight_distance")

# The order columns appear in; anything else a summary holds (tuner hyperparameters, later
# diagnostics) follows in the order it first appears, so no measurement is silently dropped.
LEADING_COLUMNS = (
    "run_id", "trial_id", "tuner_id", "status", "batch_size", "learning_rate", "optimizer", "precision",
    "epochs", "best_val_accuracy", "final_val_accuracy", "test_accuracy", "generalization_gap",
    "epochs_to_target", "steps_to_target", "examples_to_target", "seconds_to_target",
    *_COST_AND_DIAGNOSTICS,
)

# A narrower view for the terminal, printed at the end of a sweep or search.
KEY_COLUMNS = (
    "batch_size", "status", "learning_rate", "best_val_accuracy", "final_val_accuracy", "epochs_to_target",
    "seconds_to_target", *_COST_AND_DIAGNOSTICS,
)

# Nested or long-text summary fields that do not belong in a table cell.
_SKIP = {"traceback", "config", "hyperparameters", "kerasbatch_version", "tensorflow_version", "keras_version"}


def study_table(study_dir: str | Path) -> pd.DataFrame:
    """A DataFrame with one row per complete run in ``study_dir``, sorted by batch size."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise KerasbatchError(f"no study at {str(study_dir)!r}")
    store = Store(study_dir.parent, study_dir.name)
    rows = []
    for run_id in store.run_ids():
        summary = store.read_summary(run_id)
        row = {"run_id": run_id}
        row.update({k: v for k, v in summary.items() if k not in _SKIP and not isinstance(v, (dict, list))})
        row.update(summary.get("hyperparameters") or {})
        rows.append(row)
    if not rows:
        raise KerasbatchError(f"no finished runs in {str(study_dir)!r}")
    frame = _integers_stay_integers(pd.DataFrame(rows))
    frame = frame[_ordered(frame.columns)]
    sort = [c for c in ("batch_size", "run_id") if c in frame.columns]
    return frame.sort_values(sort, kind="stable").reset_index(drop=True)


def select_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Keep the named columns, in that order; unknown names are a user error naming them."""
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KerasbatchError(f"unknown column {missing[0]!r}; columns are: {', '.join(frame.columns)}")
    return frame[columns]


def render(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """The table as text in one of ``FORMATS``."""
    if fmt == "markdown":
        # tabulate leaves None cells empty but prints NaN and <NA> literally.
        cells = frame.astype(object).where(frame.notna(), None)
        return cells.to_markdown(index=False, floatfmt=_float_formats(frame), missingval="")
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "html":
        # Nullable integer columns print <NA> whatever na_rep says, unless they become objects first.
        cells = frame.astype(object).where(frame.notna(), None)
        return cells.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "latex":
        return frame.to_latex(index=False, float_format="%.4g", na_rep="--")
    raise KerasbatchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _float_formats(frame: pd.DataFrame) -> list[str]:
    """Four significant digits, but whole numbers for large values (14060 samples/s, not 1.406e+04)."""
    formats = []
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce").abs()
        formats.append(".0f" if values.max() >= 1000 else ".4g")
    return formats


def _integers_stay_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts with gaps (``steps_to_target`` of runs that never got there) stay counts, not ``1.2e+04``."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f" and values.notna().any() and (values.dropna() % 1 == 0).all():
            if column in _INTEGER_COLUMNS or column.endswith(("steps", "examples", "_to_target")):
                frame[column] = values.astype("Int64")
    return frame


_INTEGER_COLUMNS = {"batch_size", "epochs", "steps", "examples", "epochs_to_target", "steps_to_target",
                    "examples_to_target", "diverged_at_step", "seed", "trial_id"}


def _ordered(columns: Iterable[str]) -> list[str]:
    columns = list(columns)
    lead = [c for c in LEADING_COLUMNS if c in columns]
    return lead + [c for c in columns if c not in lead]
