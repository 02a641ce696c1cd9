"""Comparison tables: one row per finished run of a study, built with pandas.

TensorFlow-free: comparing finished runs needs only their ``summary.json`` files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from kerasbatch.errors import KerasbatchError
from kerasbatch.store import STUDY, Store, read_json
from kerasbatch.config import diagnostics
from kerasbatch.config.study import DEFAULT_ARM
from kerasbatch.reports.text import FORMATS, align, headers_unpadded, mean_std_cells, render  # noqa: F401 (the API)

# What a run costs and what it measured (each diagnostic's key columns), in the order both tables show them.
_COST_AND_DIAGNOSTICS = ("samples_per_second", "train_seconds", *diagnostics.KEY_COLUMNS)

# The order columns appear in; anything else a summary holds (tuner hyperparameters, later
# diagnostics) follows in the order it first appears, so no measurement is silently dropped.
LEADING_COLUMNS = (
    "run_id", "trial_id", "tuner_id", "status", "batch_size", "learning_rate", "optimizer", "precision",
    "epochs", "best_val_accuracy", "final_val_accuracy", "test_accuracy", "generalization_gap",
    "epochs_to_target", "steps_to_target", "examples_to_target", "seconds_to_target",
    *_COST_AND_DIAGNOSTICS,
)

# The compact view: what a sweep or search prints at its end and ``compare`` shows by default, as
# column -> short header, so that a dozen columns fit in 120 characters of terminal.
KEY_VIEW = {
    "trial_id": "trial", "run_id": "run", "batch_size": "batch", "status": "status", "learning_rate": "lr",
    "best_val_accuracy": "best acc", "final_val_accuracy": "final acc", "epochs_to_target": "ep to target",
    "seconds_to_target": "s to target", "samples_per_second": "samples/s", "gns": "gns",
}
# What goes first when a table with unusually wide cells would still be too wide.
_DROP_FIRST = ("run_id", "final_val_accuracy", "epochs_to_target", "samples_per_second", "learning_rate",
               "seconds_to_target", "gns", "trial_id")
MAX_WIDTH = 120

# What "best" means: metric name -> (summary column, direction).

# Nested or long-text summary fields that do not belong in a table cell.
_SKIP = {"traceback", "config", "hyperparameters", "kerasbatch_version", "tensorflow_version", "keras_version"}


def study_table(study_dir: str | Path) -> pd.DataFrame:
    """A DataFrame with one row per complete run in ``study_dir``, sorted by batch size."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise KerasbatchError(f"no study at {str(study_dir)!r}")
    store = Store.from_dir(study_dir)
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
    sort = [c for c in ("batch_size", "arm", "seed", "run_id") if c in frame.columns]
    return frame.sort_values(sort, kind="stable", key=_arm_order(study_dir)).reset_index(drop=True)


def _arm_order(study_dir: Path):
    """Sort key: a study's arms in the order its file lists them, not alphabetically."""
    manifest = read_json(study_dir / STUDY) if (study_dir / STUDY).is_file() else {}
    arms = [arm.get("name") for arm in (manifest.get("settings") or {}).get("arms") or [] if isinstance(arm, dict)]
    rank = {name: index for index, name in enumerate(arms)}
    return lambda column: column.map(lambda v: rank.get(v, len(rank))) if column.name == "arm" else column


# -- arms and repeats ------------------------------------------------------------------------------

# Numeric columns that name a run or a setting rather than measure it: never averaged.
_NOT_METRICS = {"batch_size", "seed", "trial_id", "target", "replicas"}


def with_arm(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an ``arm`` column (``base`` for runs of a study without arms, or of a sweep)."""
    if "arm" in frame.columns:
        return frame.assign(arm=frame["arm"].fillna(DEFAULT_ARM))
    return frame.assign(arm=DEFAULT_ARM)


def has_repeats(frame: pd.DataFrame) -> bool:
    """True when the runs form arms or repeats: more than one arm, or a setting (arm, batch size) run
    more than once.

    In a frame without an ``arm`` column (a sweep, a search) runs at one batch size can differ in other
    settings (a tuner's learning rate): there they count as repeats only when their seeds differ.
    """
    if "arm" not in frame.columns:
        if "seed" not in frame.columns or "batch_size" not in frame.columns:
            return False
        return bool((frame.groupby("batch_size")["seed"].nunique() > 1).any())
    frame = with_arm(frame)
    return frame["arm"].nunique() > 1 or bool((frame.groupby(["arm", "batch_size"]).size() > 1).any())


def aggregate(frame: pd.DataFrame, metrics: Iterable[str] | None = None, sort: str | None = None) -> pd.DataFrame:
    """Runs of one setting taken together: one row per (arm, batch size), with the mean and the standard
    deviation across its runs (its seeds) of every metric.

    Args:
        frame: a :func:`study_table` (failed runs included: their missing values are skipped).
        metrics: the columns to aggregate; by default every numeric column that measures something.
        sort: a column of ``frame`` to order the rows by, ascending: ``arm``, ``batch_size``, or a
            numeric column by its mean (settings without a value last; ties keep the default order).

    Returns:
        Columns ``arm, batch_size, n``, then ``<metric>_mean`` and ``<metric>_std`` for each metric
        (the sample standard deviation, NaN for a single run); rows in the frame's arm order, then by
        batch size, unless ``sort`` says otherwise. A frame without arms has the one arm ``base``.

    Raises:
        KerasbatchError: a metric or ``sort`` is not a column, or ``sort`` names a column that has no mean.
    """
    frame = with_arm(frame)
    if metrics is None:
        metrics = [c for c in frame.columns if c not in _NOT_METRICS and c != "arm" and _is_numeric(frame[c])]
    metrics = list(metrics)
    select_columns(frame, metrics)
    values = frame[metrics].apply(pd.to_numeric, errors="coerce").astype(float)
    values[["arm", "batch_size"]] = frame[["arm", "batch_size"]]
    arms = list(dict.fromkeys(frame["arm"]))
    groups = values.groupby(["arm", "batch_size"], sort=False)
    out = groups.size().rename("n").reset_index()
    stats = groups[metrics].agg(["mean", "std"])
    stats.columns = [f"{metric}_{stat}" for metric, stat in stats.columns]
    out = out.join(stats, on=["arm", "batch_size"])
    out["_arm"] = out["arm"].map(arms.index)
    out = out.sort_values(["_arm", "batch_size"], kind="stable").drop(columns="_arm")
    if sort is not None and sort != "batch_size":
        out = out.sort_values(sort, kind="stable") if sort == "arm" else _by_mean(frame, out, sort)
    return out.reset_index(drop=True)


def _by_mean(frame: pd.DataFrame, out: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of ``out`` ordered by the mean of ``column`` over each (arm, batch size)'s runs."""
    select_columns(frame, [column])
    if not _is_numeric(frame[column]):
        raise KerasbatchError(f"cannot sort the mean ± std view by {column!r}, which has no mean; "
                              "sort one row per run with --by-run")
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    means = values.groupby([frame["arm"], frame["batch_size"]]).mean()
    keys = means.reindex(pd.MultiIndex.from_frame(out[["arm", "batch_size"]])).to_numpy()
    return out.assign(_key=keys).sort_values("_key", kind="stable", na_position="last").drop(columns="_key")


# The compact view of a study with arms or repeats: column -> short header (at most 15 columns).
AGGREGATE_VIEW = {
    "arm": "arm", "batch_size": "batch", "n": "n", "learning_rate": "lr", "best_val_accuracy": "best acc",
    "final_val_accuracy": "final acc", "steps_to_target": "steps to target", "seconds_to_target": "s to target",
    "samples_per_second": "samples/s", "gns": "gns",
}
_AGGREGATE_DROP_FIRST = ("final_val_accuracy", "gns", "samples_per_second", "learning_rate", "steps_to_target")


def aggregate_view(frame: pd.DataFrame, sort: str | None = None) -> pd.DataFrame:
    """The :data:`AGGREGATE_VIEW` columns of :func:`aggregate` as text cells, one row per (arm, batch size):
    ``0.953 ± 0.004`` (mean ± std across seeds), a bare mean where the runs agree (the learning rate) or
    there is one run. A mean counts only the runs with a value; ``(2/3)`` says when some had none (a run
    that never reached the target has no ``steps_to_target``). The arm column only when there are several.
    Rows in :func:`aggregate`'s order, ``sort`` as there.
    """
    frame = with_arm(frame)
    metrics = [c for c in AGGREGATE_VIEW if c in frame.columns and c not in ("arm", "batch_size", "n")
               and frame[c].notna().any()]
    table = aggregate(frame, metrics, sort)
    counts = frame.groupby(["arm", "batch_size"], sort=False)[metrics].count()
    cells = table[["arm", "batch_size", "n"]].astype(object)
    for metric in metrics:
        reached = counts.loc[list(zip(table["arm"], table["batch_size"])), metric].to_numpy()
        cells[metric] = mean_std_cells(table[f"{metric}_mean"], table[f"{metric}_std"], reached, table["n"],
                                       count_like=metric in INTEGER_COLUMNS)
    return cells.drop(columns="arm") if table["arm"].nunique() == 1 else cells


def render_aggregate(frame: pd.DataFrame, width: int = MAX_WIDTH, sort: str | None = None) -> str:
    """:func:`aggregate_view` as markdown with short headers; should it be wider than ``width``, columns
    go in a fixed order. ``sort`` as :func:`aggregate`'s."""
    def markdown(cells: pd.DataFrame) -> str:
        return cells.rename(columns=AGGREGATE_VIEW).to_markdown(index=False, disable_numparse=True,
                                                                colalign=[align(c) for c in cells.columns])

    return _fit_width(aggregate_view(frame, sort), markdown, _AGGREGATE_DROP_FIRST, width)


def _fit_width(view: pd.DataFrame, markdown: Callable[[pd.DataFrame], str], drop_first: Iterable[str],
               width: int) -> str:
    """``markdown(view)``, dropping columns in ``drop_first`` order while a line is wider than ``width``."""
    while True:
        with headers_unpadded():
            text = markdown(view)
        droppable = [c for c in drop_first if c in view.columns]
        if max(map(len, text.splitlines())) <= width or not droppable:
            return text
        view = view.drop(columns=droppable[0])


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def select_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Keep the named columns, in that order; unknown names are a user error naming them."""
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KerasbatchError(f"unknown column {missing[0]!r}; columns are: {', '.join(frame.columns)}")
    return frame[columns]


def key_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The compact view of ``frame``: the :data:`KEY_VIEW` columns that hold a value in some row.

    ``run_id`` is kept only when it says more than the batch size (runs named other than ``bs<B>``,
    and no tuner trial ids to tell the rows apart).
    """
    columns = [c for c in KEY_VIEW if c in frame.columns and frame[c].notna().any()]
    if "run_id" in columns and ("trial_id" in columns or "batch_size" in frame.columns
                                and (frame["run_id"] == "bs" + frame["batch_size"].astype(str)).all()):
        columns.remove("run_id")
    return frame[columns]


def render_key(frame: pd.DataFrame, width: int = MAX_WIDTH) -> str:
    """The compact view as a markdown table with short headers, no line wider than ``width``.

    Should unusual cells (a long run id) make it wider, columns go in :data:`_DROP_FIRST` order.
    """
    return _fit_width(key_view(frame), lambda view: render(view.rename(columns=KEY_VIEW), "markdown"),
                      _DROP_FIRST, width)


def _integers_stay_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts with gaps (``steps_to_target`` of runs that never got there) stay counts, not ``1.2e+04``."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "f" and values.notna().any() and (values.dropna() % 1 == 0).all():
            if column in INTEGER_COLUMNS or column.endswith(("steps", "examples", "_to_target")):
                frame[column] = values.astype("Int64")
    return frame


INTEGER_COLUMNS = {"batch_size", "epochs", "steps", "examples", "epochs_to_target", "steps_to_target",
                    "examples_to_target", "diverged_at_step", "seed", "trial_id"}


def _ordered(columns: Iterable[str]) -> list[str]:
    columns = list(columns)
    lead = [c for c in LEADING_COLUMNS if c in columns]
    return lead + [c for c in columns if c not in lead]
