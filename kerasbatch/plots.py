"""Figures that compare the runs of a study: accuracy, learning curves, steps to target, gradients.

Only the study folder is read (``summary.json`` via :func:`kerasbatch.tables.study_table`, and each
run's ``history.csv``), so plotting never needs TensorFlow. Figures use matplotlib's object-oriented
API, never pyplot, so no global figure state is created or leaked. Example: ``plot_study("runs/demo")``
writes ``runs/demo/plots/<figure>.png`` and ``.svg`` for each figure in :data:`FIGURES` that has data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator, NullLocator

from kerasbatch.errors import KerasbatchError
from kerasbatch.store import HISTORY, atomic_path, make_dir
from kerasbatch.tables import study_table

PLOTS = "plots"
BATCH_LABEL = "batch size (examples)"
# Drop the creation date from SVGs so re-plotting unchanged data gives identical files.
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {"png": {"dpi": 120}, "svg": {"metadata": {"Date": None}}}


@dataclass(frozen=True)
class _Study:
    """What the figures draw: the successful runs, their histories, and one label and colour each."""

    runs: pd.DataFrame
    histories: dict[str, pd.DataFrame]
    labels: dict[str, str]
    colors: dict[str, Any]


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
    study = _load(Path(study_dir))
    figures = {name: draw(study) for name, draw in _FIGURES.items()}
    return {name: fig for name, fig in figures.items() if fig is not None}


def describe(name: str) -> str:
    """A caption for figure ``name``: what it shows and how to read it."""
    return " ".join((_FIGURES[name].__doc__ or name).split())


def _load(study_dir: Path) -> _Study:
    runs = study_table(study_dir)
    if "status" in runs.columns:
        # A diverged or crashed run has no trustworthy curve; the report's table still lists it.
        runs = runs[runs["status"] == "ok"].reset_index(drop=True)
    runs["batch_size"] = pd.to_numeric(runs.get("batch_size", np.nan), errors="coerce")
    histories = {run_id: _read_history(study_dir / run_id / HISTORY) for run_id in runs["run_id"]}
    # Colour follows batch-size order; the bright yellow end of viridis is unreadable on white.
    colors = {r: colormaps["viridis"](0.85 * i / max(len(runs) - 1, 1)) for i, r in enumerate(runs["run_id"])}
    return _Study(runs, {r: h for r, h in histories.items() if h is not None}, _labels(runs), colors)


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


def _check_formats(formats: Iterable[str]) -> list[str]:
    formats = [str(f).lower().lstrip(".") for f in ([formats] if isinstance(formats, str) else formats)]
    supported = FigureCanvasAgg.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported] if formats else ["(none)"]
    if unknown:
        raise KerasbatchError(f"unknown plot format {unknown[0]!r}; choose from {', '.join(sorted(supported))}")
    return formats


# -- drawing helpers ----------------------------------------------------------------------------------
def _figure(title: str, ncols: int = 1, width: float = 6.4) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * ncols, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(1, ncols, squeeze=False, sharey=True)[0])
    fig.suptitle(title)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def _column(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column as floats, or None when it is missing or holds no number at all."""
    values = pd.to_numeric(frame[name], errors="coerce") if name in frame.columns else None
    return None if values is None or values.isna().all() else values


def _by_batch(runs: pd.DataFrame, column: str) -> pd.DataFrame:
    """Columns ``b`` (batch size) and ``v`` (the value) for the runs where both are numbers."""
    values = _column(runs, column)
    return pd.DataFrame({"b": runs["batch_size"], "v": np.nan if values is None else values}).dropna()


def _batch_axis(ax: Axes, runs: pd.DataFrame) -> None:
    """Base-2 log axis with a tick at each batch size that was run, and no others."""
    sizes = sorted({int(b) for b in runs["batch_size"].dropna()})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes], rotation=45 if len(sizes) > 8 else 0)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.5)
    ax.set_xlabel(BATCH_LABEL)


def _log_y(ax: Axes, only_if_wide: bool = False) -> None:
    """Log-scale y with plain labels (400, not 4×10²); if only_if_wide, only for data spanning >10×."""
    values = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax.get_lines()] or [[]])
    values = values[np.isfinite(values)]
    if only_if_wide and not (values.size and values.min() > 0 and values.max() / values.min() > 10):
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter())
    ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def _history_lines(ax: Axes, study: _Study, x: str, y: str, labels: dict[str, str] | None = None) -> int:
    before = len(ax.get_lines())
    for run_id, history in study.histories.items():
        rows = history[[x, y]].dropna() if {x, y} <= set(history.columns) else []
        if len(rows):
            ax.plot(rows[x], rows[y], marker="o" if len(rows) <= 30 else None, markersize=3,
                    color=study.colors[run_id], label=(labels or study.labels)[run_id])
    return len(ax.get_lines()) - before


def _legend(target: Axes | Figure, handles: list | None = None, labels: list | None = None,
            **kw: Any) -> None:
    handles, labels = (handles, labels) if handles else target.get_legend_handles_labels()
    target.legend(handles, labels, fontsize="small", framealpha=0.9, ncols=1 + (len(handles) > 10), **kw)


# -- one function per figure; each docstring is the caption the report shows ----------------------
def _val_accuracy_vs_batch(study: _Study) -> Figure | None:
    """Best and final validation accuracy (and test accuracy, when measured) against batch size."""
    series = (("best_val_accuracy", "best validation"), ("final_val_accuracy", "final validation"),
              ("test_accuracy", "test"))
    return _metrics_vs_batch(study, "Validation accuracy vs batch size", series, "accuracy (fraction)")


_CURVE_AXES = (("epoch", "epoch"), ("steps", "optimizer steps"), ("elapsed", "wall time (seconds)"))


def _learning_curves(study: _Study) -> Figure | None:
    """Validation accuracy against epochs, optimizer steps and wall time, one line per run."""
    fig, axes = _figure("Validation accuracy during training", ncols=3, width=4.4)
    drawn = [_history_lines(ax, study, x, "val_accuracy") for ax, (x, _) in zip(axes, _CURVE_AXES)]
    if not any(drawn):
        return None
    for ax, (x, label), count in zip(axes, _CURVE_AXES, drawn):
        ax.set_xlabel(label)
        if x == "steps" and count:
            ax.set_xscale("log")  # a small batch takes many times the steps of a large one
        elif x == "epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("validation accuracy (fraction)")
    # One legend for all panels, since each panel shows the same runs in the same colours.
    merged = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels())}
    _legend(fig, list(merged.values()), list(merged), loc="outside right upper", title="run")
    return fig


def _steps_to_target(study: _Study) -> Figure | None:
    """Optimizer steps to the target accuracy with the fit S(B) = S_min(1 + B_noise/B): steps fall
    in proportion to 1/B while B ≪ B_noise (perfect scaling) and level off at S_min beyond it."""
    from kerasbatch.noise import fit_steps_curve  # imported here so the module loads without it

    reached = _by_batch(study.runs, "steps_to_target")
    if len(reached) < 2:  # a curve with two parameters needs at least two points
        return None
    target = _column(study.runs, "target")
    goal = f"val accuracy {target.dropna().iloc[0]:.4g}" if target is not None else "the target"
    fig, (ax,) = _figure(f"Steps to reach {goal}")
    sizes, counts = reached["b"].to_numpy(float), reached["v"].to_numpy(float)
    # Targets are checked at epoch ends, so a measured count can overshoot the true crossing.
    ax.plot(sizes, counts, "o", label="measured (at the first epoch end on target)")
    s_min, b_noise = fit_steps_curve(sizes, counts)
    if np.isfinite(s_min) and np.isfinite(b_noise):
        grid = np.geomspace(sizes.min() / 1.5, sizes.max() * 1.5, 200)
        ax.plot(grid, s_min * (1 + b_noise / grid), "--",
                label=f"fit S_min(1 + B_noise/B):\nS_min = {s_min:.3g} steps, B_noise = {b_noise:.3g}")
    _batch_axis(ax, study.runs.loc[reached.index])
    _log_y(ax)
    ax.set_ylabel("optimizer steps to target")
    _legend(ax)
    return fig


def _grad_norm_vs_batch(study: _Study) -> Figure | None:
    """Gradient norm at the end of training, and its mean over training, against batch size."""
    series = (("grad_norm", "final"), ("grad_norm_mean", "mean over training"))
    return _metrics_vs_batch(study, "Gradient norm vs batch size", series, "gradient L2 norm", log_y=True)


def _weight_distance(study: _Study) -> Figure | None:
    """How far each run's weights have moved from their initial values, per epoch."""
    optimizers = dict(zip(study.runs["run_id"], study.runs.get("optimizer", pd.Series(dtype=object))))
    labels = {run_id: label + (f", {optimizers[run_id]}" if pd.notna(optimizers.get(run_id)) else "")
              for run_id, label in study.labels.items()}
    return _over_training(study, "Distance travelled from the initial weights", "epoch",
                          "weight_distance", "‖w − w₀‖ (L2 norm)", labels)


def _throughput_vs_batch(study: _Study) -> Figure | None:
    """Training throughput (samples per second) against batch size."""
    series = (("samples_per_second", ""),)
    return _metrics_vs_batch(study, "Training throughput vs batch size", series, "samples / s", log_y=True)


def _noise_scale(study: _Study) -> Figure | None:
    """Gradient noise scale during training; batch sizes near it use each example most efficiently."""
    return _over_training(study, "Gradient noise scale during training", "steps", "gns",
                          "B_simple = tr(Σ) / |G|² (examples)")


def _metrics_vs_batch(study: _Study, title: str, series: Sequence[tuple[str, str]], ylabel: str,
                      log_y: bool = False) -> Figure | None:
    fig, (ax,) = _figure(title)
    for (column, label), marker in zip(series, "os^"):
        rows = _by_batch(study.runs, column)
        if len(rows):
            # Points only when tuner trials share a batch size (a line would zig-zag); hollow markers
            # keep equal values (best = final accuracy) visible on top of each other.
            ax.plot(rows["b"], rows["v"], linestyle="-" if rows["b"].is_unique else "none", marker=marker,
                    fillstyle="none", markersize=7, label=label)
    if not ax.get_lines():
        return None
    _batch_axis(ax, study.runs)
    ax.set_ylabel(ylabel)
    if log_y:
        _log_y(ax, only_if_wide=True)
    if len(series) > 1:
        _legend(ax)
    return fig


def _over_training(study: _Study, title: str, x: str, y: str, ylabel: str,
                   labels: dict[str, str] | None = None) -> Figure | None:
    fig, (ax,) = _figure(title)
    if not _history_lines(ax, study, x, y, labels):
        return None
    ax.set_xlabel(dict(_CURVE_AXES)[x])
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_xscale("log")  # runs' step counts differ by the ratio of their batch sizes
    ax.set_ylabel(ylabel)
    _log_y(ax, only_if_wide=True)
    _legend(ax, title="run")
    return fig


# A figure's name is its function's name without the underscore, so the two cannot drift apart.
_FIGURES: dict[str, Callable[[_Study], Figure | None]] = {draw.__name__[1:]: draw for draw in (
    _val_accuracy_vs_batch, _learning_curves, _steps_to_target, _grad_norm_vs_batch, _weight_distance,
    _throughput_vs_batch, _noise_scale)}

FIGURES: tuple[str, ...] = tuple(_FIGURES)
"""Every figure name, in the order plot_study writes them."""
