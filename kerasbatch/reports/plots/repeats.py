"""Drawing a study with arms or repeats: each (arm, batch size) as the mean over its seeds.

Against batch size, the mean carries error bars of ± one standard deviation across seeds (the sample
standard deviation of :func:`kerasbatch.reports.tables.aggregate`, so figure and table show the same numbers);
during training, the mean curve (seeds aligned by epoch) carries a band of ± one standard deviation.
Arms get a colour each against batch size, and a line style each in the curves, where colour is the
batch size as in a plain sweep.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes

from kerasbatch.reports import tables
from kerasbatch.reports.plots.base import Study, column, fitted_steps_curve

LINE_STYLES = ("-", "--", ":", "-.")
BAND_ALPHA = 0.2
LEGEND_TITLE = "mean ± std over seeds"
CAPTION = ("Runs are taken together per arm and batch size: the mean over their seeds, ± one standard "
           "deviation as error bars or a shaded band.")


def arms(runs: pd.DataFrame) -> list[str]:
    """The study's arms in the table's order (the order the study file lists them)."""
    return list(dict.fromkeys(runs["arm"]))


def arm_color(index: int):
    return colormaps["tab10"](index % 10)


def _dodge(sizes: pd.Series, index: int, count: int) -> pd.Series:
    """Batch sizes shifted a little per arm, so that arms' error bars at one batch size do not overlap."""
    return sizes * 2.0 ** (0.06 * (index - (count - 1) / 2))


def metrics_vs_batch(ax: Axes, runs: pd.DataFrame, series: Sequence[tuple[str, str]]) -> int:
    """Per arm and per (column, label) of ``series``: the mean with ± std error bars against batch size.

    Returns how many error bar lines were drawn.
    """
    present = [(name, label) for name, label in series if column(runs, name) is not None]
    if not present:
        return 0
    means = tables.aggregate(runs, [name for name, _ in present])
    names, drawn = arms(runs), 0
    for index, arm in enumerate(names):
        rows = means[means["arm"] == arm]
        # A series keeps its marker and line style (when others are absent too); the arm gives the colour.
        for (name, label), marker, style in zip(series, "os^", LINE_STYLES):
            if (name, label) not in present or rows[f"{name}_mean"].isna().all():
                continue
            shown = rows[rows[f"{name}_mean"].notna()]
            words = [arm] * (len(names) > 1) + [label] * bool(label)
            ax.errorbar(_dodge(shown["batch_size"], index, len(names)), shown[f"{name}_mean"],
                        yerr=shown[f"{name}_std"].fillna(0.0), marker=marker, fillstyle="none", markersize=7,
                        linestyle=style, capsize=3, label=": ".join(words) or arm,
                        color=arm_color(index) if len(names) > 1 else None)
            drawn += 1
    return drawn


def mean_curve(histories: Sequence[pd.DataFrame], x: str, y: str) -> pd.DataFrame | None:
    """Columns ``x`` (its mean), ``mean`` and ``std`` (0 for one run) of ``y`` per epoch.

    Runs are aligned by epoch: at one epoch, seeds have taken the same steps; their wall times differ,
    so the x of a time axis is the mean time at that epoch. Only epochs every run reached are kept: past
    the first run that stopped (at its target), a mean of the others would show only the slow seeds.
    """
    wanted = list(dict.fromkeys(["epoch", x, y]))
    parts = [h[wanted].dropna() for h in histories if h is not None and set(wanted) <= set(h.columns)]
    rows = pd.concat(parts) if parts else pd.DataFrame()
    if rows.empty:
        return None
    stats = rows.groupby("epoch").agg(x=(x, "mean"), mean=(y, "mean"), std=(y, "std"), n=(y, "size"))
    stats = stats[stats["n"] == len(parts)]
    return None if stats.empty else stats.assign(std=stats["std"].fillna(0.0)).reset_index(drop=True)


def mean_curves(ax: Axes, study: Study, x: str, y: str) -> int:
    """One mean line with a ± std band per (arm, batch size); returns how many lines were drawn."""
    runs, names = study.runs, arms(study.runs)
    sizes = sorted(runs["batch_size"].dropna().unique())
    shades = {b: colormaps["viridis"](0.85 * i / max(len(sizes) - 1, 1)) for i, b in enumerate(sizes)}
    drawn = 0
    for index, arm in enumerate(names):
        for size in sizes:
            ids = runs.loc[(runs["arm"] == arm) & (runs["batch_size"] == size), "run_id"]
            curve = mean_curve([study.histories.get(r) for r in ids], x, y)
            if curve is None:
                continue
            label = f"{arm}, B={size:.0f}" if len(names) > 1 else f"B={size:.0f}"
            ax.plot(curve["x"], curve["mean"], linestyle=LINE_STYLES[index % len(LINE_STYLES)],
                    marker="o" if len(curve) <= 30 else None, markersize=3, color=shades[size], label=label)
            ax.fill_between(curve["x"], curve["mean"] - curve["std"], curve["mean"] + curve["std"],
                            color=shades[size], alpha=BAND_ALPHA, linewidth=0)
            drawn += 1
    return drawn


def steps_to_target(ax: Axes, runs: pd.DataFrame, fit: Callable) -> int:
    """Per arm: mean ± std steps to the target over the seeds that reached it, and S(B) fitted to
    those seeds' runs. Returns how many arms had a point."""
    steps = column(runs, "steps_to_target")
    reached = runs[steps.notna()] if steps is not None else runs.iloc[:0]
    names, drawn = arms(runs), 0
    for index, arm in enumerate(names):
        own = reached[reached["arm"] == arm]
        if own.empty:
            continue
        means = tables.aggregate(own, ["steps_to_target"])
        color, prefix = arm_color(index), f"{arm}: " if len(names) > 1 else ""
        ax.errorbar(_dodge(means["batch_size"], index, len(names)), means["steps_to_target_mean"],
                    yerr=means["steps_to_target_std"].fillna(0.0), fmt="o", capsize=3, color=color,
                    label=f"{prefix}measured, mean ± std of the seeds on target")
        drawn += 1
        sizes, counts = own["batch_size"].to_numpy(float), own["steps_to_target"].to_numpy(float)
        if len(np.unique(sizes)) < 2:  # a curve with two parameters needs two batch sizes
            continue
        fitted_steps_curve(ax, sizes, counts, fit, prefix=f"{prefix}fit ", color=color)
    return drawn
