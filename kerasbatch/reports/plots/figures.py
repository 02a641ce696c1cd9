"""Figures that compare the runs of a study: accuracy, learning curves, steps to target, gradients.

Only the study folder is read (``summary.json`` via :func:`kerasbatch.reports.tables.study_table`, and each
run's ``history.csv``), so plotting needs no TensorFlow; the one exception is the decision boundary of
runs on 2-D points (:mod:`kerasbatch.reports.plots.boundary`), which runs their saved models. A study with arms
or repeated seeds is drawn as the mean of each (arm, batch size) with ± std error bars or bands
(:mod:`kerasbatch.reports.plots.repeats`); a plain sweep or search as one line or point per run. Figures use
matplotlib's object-oriented API, never pyplot, so no global figure state is created or leaked. Example:
``plot_study("runs/demo")`` writes ``runs/demo/plots/<figure>.png`` and ``.svg`` for each figure in
:data:`FIGURES` that has data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kerasbatch.config import diagnostics
from kerasbatch.reports.plots import repeats
from kerasbatch.errors import KerasbatchError
from kerasbatch.reports.plots.base import (BATCH_LABEL, CURVE_AXES, Study, batch_axis, by_batch, column, legend, load,
                                   fitted_steps_curve, log_y, new_figure)
from kerasbatch.reports.plots.boundary import decision_boundary
from kerasbatch.reports.plots.schedule import batch_schedule
from kerasbatch.store import atomic_path, make_dir

__all__ = ["BATCH_LABEL", "FIGURES", "PLOTS", "build_figures", "describe", "plot_study"]

PLOTS = "plots"
# Drop the creation date from SVGs so re-plotting unchanged data gives identical files.
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {"png": {"dpi": 120}, "svg": {"metadata": {"Date": None}}}


def plot_study(study_dir: str | Path, output_dir: str | Path | None = None,
               formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write every figure that has data to ``output_dir`` (default ``<study_dir>/plots``).

    Each figure is saved once per format as ``<name>.<format>``, atomically. Figures whose data is
    absent are skipped. Returns the written paths, in the order of :data:`FIGURES`, then of ``formats``.
    """
    formats = _check_formats(formats)
    figures = build_figures(study_dir)  # first: a mistyped study must not leave a plots/ folder behind
    output_dir = Path(output_dir) if output_dir is not None else Path(study_dir) / PLOTS
    make_dir(output_dir)
    written = []
    for name, fig in figures.items():
        for fmt in formats:
            path = output_dir / f"{name}.{fmt}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
            written.append(path)
    return written


def build_figures(study_dir: str | Path) -> dict[str, Figure]:
    """The study's figures by name, without saving them (for notebooks, and to inspect in tests)."""
    study = load(Path(study_dir))
    figures = {name: draw(study) for name, draw in _FIGURES.items()}
    return {name: fig for name, fig in figures.items() if fig is not None}


def describe(name: str, repeats_drawn: bool = False) -> str:
    """A caption for figure ``name``: what it shows and how to read it (``repeats_drawn``: of a study with
    arms or repeats, whose figures draw means with their spread)."""
    caption = " ".join((_FIGURES[name].__doc__ or name).split())
    return f"{caption} {repeats.CAPTION}" if repeats_drawn and name in _DRAWN_WITH_REPEATS else caption


def _check_formats(formats: Iterable[str]) -> list[str]:
    formats = [str(f).lower().lstrip(".") for f in ([formats] if isinstance(formats, str) else formats)]
    supported = FigureCanvasAgg.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported] if formats else ["(none)"]
    if unknown:
        raise KerasbatchError(f"unknown plot format {unknown[0]!r}; choose from {', '.join(sorted(supported))}")
    return formats


# -- drawing helpers ----------------------------------------------------------------------------------
def _history_lines(ax: Axes, study: Study, x: str, y: str, labels: dict[str, str] | None = None) -> int:
    if study.grouped:
        return repeats.mean_curves(ax, study, x, y)
    before = len(ax.get_lines())
    for run_id, history in study.histories.items():
        rows = history[[x, y]].dropna() if {x, y} <= set(history.columns) else []
        if len(rows):
            ax.plot(rows[x], rows[y], marker="o" if len(rows) <= 30 else None, markersize=3,
                    color=study.colors[run_id], label=(labels or study.labels)[run_id])
    return len(ax.get_lines()) - before


def _legend_title(study: Study) -> str:
    return repeats.LEGEND_TITLE if study.grouped else "run"


# -- one function per figure; each docstring is the caption the report shows ----------------------
def _val_accuracy_vs_batch(study: Study) -> Figure | None:
    """Best and final validation accuracy (and test accuracy, when measured) against batch size."""
    series = (("best_val_accuracy", "best validation"), ("final_val_accuracy", "final validation"),
              ("test_accuracy", "test"))
    return _metrics_vs_batch(study, "Validation accuracy vs batch size", series, "accuracy (fraction)")


def _learning_curves(study: Study) -> Figure | None:
    """Validation accuracy against epochs, optimizer steps and wall time, one line per run."""
    fig, axes = new_figure("Validation accuracy during training", ncols=3, width=4.4)
    drawn = [_history_lines(ax, study, x, "val_accuracy") for ax, (x, _) in zip(axes, CURVE_AXES)]
    if not any(drawn):
        return None
    for ax, (x, label), count in zip(axes, CURVE_AXES, drawn):
        ax.set_xlabel(label)
        if x == "steps" and count:
            ax.set_xscale("log")  # a small batch takes many times the steps of a large one
        elif x == "epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("validation accuracy (fraction)")
    # One legend for all panels, since each panel shows the same runs in the same colours.
    merged = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels())}
    legend(fig, list(merged.values()), list(merged), loc="outside right upper", title=_legend_title(study))
    return fig


def _steps_to_target(study: Study) -> Figure | None:
    """Optimizer steps to the target accuracy with the fit S(B) = S_min(1 + B_noise/B): steps fall
    in proportion to 1/B while B ≪ B_noise (perfect scaling) and level off at S_min beyond it."""
    from kerasbatch.noise.estimators import fit_steps_curve  # imported here so the module loads without it

    reached = by_batch(study.runs, "steps_to_target")
    if len(reached) < 2:  # a curve with two parameters needs at least two points
        return None
    target = column(study.runs, "target")
    goal = f"val accuracy {target.dropna().iloc[0]:.4g}" if target is not None else "the target"
    fig, (ax,) = new_figure(f"Steps to reach {goal}")
    if study.grouped:
        repeats.steps_to_target(ax, study.runs, fit_steps_curve)
    else:
        _fitted_steps(ax, reached["b"].to_numpy(float), reached["v"].to_numpy(float), fit_steps_curve)
    batch_axis(ax, study.runs.loc[reached.index])
    log_y(ax)
    ax.set_ylabel("optimizer steps to target")
    legend(ax)
    return fig


def _fitted_steps(ax: Axes, sizes: np.ndarray, counts: np.ndarray, fit: Callable) -> None:
    # Targets are checked at epoch ends, so a measured count can overshoot the true crossing.
    ax.plot(sizes, counts, "o", label="measured (at the first epoch end on target)")
    fitted_steps_curve(ax, sizes, counts, fit, prefix="fit S_min(1 + B_noise/B):\n")


def _throughput_vs_batch(study: Study) -> Figure | None:
    """Training throughput (samples per second) against batch size."""
    series = (("samples_per_second", ""),)
    return _metrics_vs_batch(study, "Training throughput vs batch size", series, "samples / s", log_y_if_wide=True)


def _metrics_vs_batch(study: Study, title: str, series: Sequence[tuple[str, str]], ylabel: str,
                      log_y_if_wide: bool = False) -> Figure | None:
    fig, (ax,) = new_figure(title)
    draw = repeats.metrics_vs_batch if study.grouped else _points_vs_batch
    drawn = draw(ax, study.runs, series)
    if not drawn:
        return None
    batch_axis(ax, study.runs)
    ax.set_ylabel(ylabel)
    if log_y_if_wide:
        log_y(ax, only_if_wide=True)
    if len(series) > 1 or len(ax.get_legend_handles_labels()[0]) > 1:
        legend(ax, title=repeats.LEGEND_TITLE if study.grouped else None)
    return fig


def _points_vs_batch(ax: Axes, runs: pd.DataFrame, series: Sequence[tuple[str, str]]) -> int:
    drawn = 0
    for (name, label), marker in zip(series, "os^"):
        rows = by_batch(runs, name)
        if len(rows):
            # Points only when tuner trials share a batch size (a line would zig-zag); hollow markers
            # keep equal values (best = final accuracy) visible on top of each other.
            ax.plot(rows["b"], rows["v"], linestyle="-" if rows["b"].is_unique else "none", marker=marker,
                    fillstyle="none", markersize=7, label=label)
            drawn += 1
    return drawn


def _over_training(study: Study, title: str, x: str, y: str, ylabel: str,
                   labels: dict[str, str] | None = None) -> Figure | None:
    fig, (ax,) = new_figure(title)
    if not _history_lines(ax, study, x, y, labels):
        return None
    ax.set_xlabel(dict(CURVE_AXES)[x])
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_xscale("log")  # runs' step counts differ by the ratio of their batch sizes
    ax.set_ylabel(ylabel)
    log_y(ax, only_if_wide=True)
    legend(ax, title=_legend_title(study))
    return fig


def _diagnostic_figure(spec: diagnostics.Figure) -> Callable[[Study], Figure | None]:
    """The drawing of a diagnostic's figure (:mod:`kerasbatch.config.diagnostics`), named as the spec says."""

    def draw(study: Study) -> Figure | None:
        if spec.over is None:
            return _metrics_vs_batch(study, spec.title, spec.series, spec.ylabel, log_y_if_wide=True)
        labels = None
        if spec.label_with:
            extra = dict(zip(study.runs["run_id"], study.runs.get(spec.label_with, pd.Series(dtype=object))))
            labels = {run_id: label + (f", {extra[run_id]}" if pd.notna(extra.get(run_id)) else "")
                      for run_id, label in study.labels.items()}
        return _over_training(study, spec.title, spec.over, spec.series[0][0], spec.ylabel, labels)

    draw.__name__, draw.__doc__ = spec.name, spec.caption
    return draw


# A figure's name is its function's name without the leading underscore, so the two cannot drift apart.
_FIGURES: dict[str, Callable[[Study], Figure | None]] = {draw.__name__.lstrip("_"): draw for draw in (
    _val_accuracy_vs_batch, _learning_curves, _steps_to_target, _throughput_vs_batch,
    *map(_diagnostic_figure, diagnostics.FIGURES), decision_boundary, batch_schedule)}

# The figures that draw a study with arms or repeats as means with their spread.
_DRAWN_WITH_REPEATS = ("val_accuracy_vs_batch", "learning_curves", "steps_to_target", "throughput_vs_batch",
                       *(spec.name for spec in diagnostics.FIGURES))

FIGURES: tuple[str, ...] = tuple(_FIGURES)
"""Every figure name, in the order plot_study writes them."""
