"""What every figure module shares: the study as the figures see it, and the axis helpers.

TensorFlow-free, like :mod:`kerasbatch.reports.plots.figures`: only ``summary.json`` files (through
:func:`kerasbatch.reports.tables.study_table`) and each run's ``history.csv`` are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, NullLocator

from kerasbatch.reports import tables
from kerasbatch.store import HISTORY

BATCH_LABEL = "batch size (examples)"
CURVE_AXES = (("epoch", "epoch"), ("steps", "optimizer steps"), ("elapsed", "wall time (seconds)"))


@dataclass(frozen=True)
class Study:
    """What the figures draw: the successful runs, their histories, and one label and colour each.

    ``grouped`` is true when the runs form arms or repeats (:func:`kerasbatch.reports.tables.has_repeats`):
    then figures draw each (arm, batch size) as the mean over its seeds with the spread around it, and
    ``runs`` has an ``arm`` column.
    """

    study_dir: Path
    runs: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    labels: dict[str, str]
    colors: dict[str, Any]
    grouped: bool = False


def load(study_dir: Path) -> Study:
    runs = tables.study_table(study_dir)
    grouped = tables.has_repeats(runs)  # of every run, as the report decides it, not only the ok ones
    if "status" in runs.columns:
        # A diverged or crashed run has no trustworthy curve; the report's table still lists it.
        runs = runs[runs["status"] == "ok"].reset_index(drop=True)
    runs["batch_size"] = pd.to_numeric(runs.get("batch_size", np.nan), errors="coerce")
    if grouped:
        runs["arm"] = runs["arm"].fillna(tables.DEFAULT_ARM) if "arm" in runs else tables.DEFAULT_ARM
    histories = {run_id: _read_history(study_dir / run_id / HISTORY) for run_id in runs["run_id"]}
    # Colour follows batch-size order; the bright yellow end of viridis is unreadable on white.
    colors = {r: colormaps["viridis"](0.85 * i / max(len(runs) - 1, 1)) for i, r in enumerate(runs["run_id"])}
    return Study(study_dir, runs, {r: h for r, h in histories.items() if h is not None}, _labels(runs), colors,
                 grouped)


def _read_history(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path).apply(pd.to_numeric, errors="coerce")
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None  # a missing or unreadable history costs that run its curves, not the whole study


def _labels(runs: pd.DataFrame) -> dict[str, str]:
    """``B=32`` when batch sizes identify runs; tuner trials can share one, so then the run id too."""
    unique = bool(runs["batch_size"].notna().all() and runs["batch_size"].is_unique)
    return {run_id: run_id if pd.isna(b) else f"B={b:.0f}" if unique else f"{run_id} (B={b:.0f})"
            for run_id, b in zip(runs["run_id"], runs["batch_size"])}


def new_figure(title: str, ncols: int = 1, width: float = 6.4, nrows: int = 1, sharey: bool = True,
               height: float = 4.2) -> tuple[Figure, list[Axes]]:
    """A figure with its own canvas (no pyplot, so no global state) and gridded axes, row by row."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(nrows, ncols, squeeze=False, sharey=sharey).flat)
    fig.suptitle(title)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column as floats, or None when it is missing or holds no number at all."""
    values = pd.to_numeric(frame[name], errors="coerce") if name in frame.columns else None
    return None if values is None or values.isna().all() else values


def by_batch(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns ``b`` (batch size) and ``v`` (the value) for the runs where both are numbers."""
    values = column(runs, name)
    return pd.DataFrame({"b": runs["batch_size"], "v": np.nan if values is None else values}).dropna()


def batch_axis(ax: Axes, runs: pd.DataFrame) -> None:
    """Base-2 log axis with a tick at each batch size that was run, and no others."""
    sizes = sorted({int(b) for b in runs["batch_size"].dropna()})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes], rotation=45 if len(sizes) > 8 else 0)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.5)
    ax.set_xlabel(BATCH_LABEL)


def log_y(ax: Axes, only_if_wide: bool = False) -> None:
    """Log-scale y with plain labels (400, not 4×10²); if only_if_wide, only for data spanning >10×."""
    values = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()] or [[]])
    values = values[np.isfinite(values)]
    if only_if_wide and not (values.size and values.min() > 0 and values.max() / values.min() > 10):
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def legend(target: Axes | Figure, handles: list | None = None, labels: list | None = None, **kw: Any) -> None:
    handles, labels = (handles, labels) if handles else target.get_legend_handles_labels()
    target.legend(handles, labels, fontsize="small", framealpha=0.9, ncols=1 + (len(handles) > 10), **kw)


def fitted_steps_curve(ax: Axes, sizes: np.ndarray, counts: np.ndarray, fit: Callable, prefix: str = "fit ",
                       **style: Any) -> None:
    """The fit S(B) = S_min(1 + B_noise/B) to measured steps, dashed from 1/1.5 of the smallest size to
    1.5 times the largest; nothing when the fit failed. ``prefix`` starts the legend label."""
    s_min, b_noise = fit(sizes, counts)
    if np.isfinite(s_min) and np.isfinite(b_noise):
        grid = np.geomspace(sizes.min() / 1.5, sizes.max() * 1.5, 200)
        ax.plot(grid, s_min * (1 + b_noise / grid), "--",
                label=f"{prefix}S_min = {s_min:.3g} steps, B_noise = {b_noise:.3g}", **style)
