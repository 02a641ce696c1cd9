"""The diagnostics registry: one entry per measurement a run can take besides loss and accuracy.

An entry says what the measurement is called (``--diagnostics`` takes these names), which callback
takes it (a class with ``from_run(config, dataset)``, named as ``"module:Class"`` and imported only when a
run builds it; entries that share a class share one instance), the columns it writes into every epoch's
logs (``history.csv``, TensorBoard, and their last and mean values in ``summary.json``), the columns of
the compact table, and its figure. Adding a diagnostic is its callback module plus one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A figure drawn from a diagnostic's columns, by :mod:`kerasbatch.reports.plots.figures`.

    Attributes:
        name: the file name (``<name>.png``) and the report's key.
        caption: what it shows and how to read it.
        series: ``(summary column, label)`` pairs drawn against batch size; or, with ``over``, the one
            history column drawn over training.
        over: ``"epoch"`` or ``"steps"``: a line per run over training instead of points per batch size.
        label_with: a summary column added to each run's label (``optimizer``: SGD and Adam paths apart).
    """

    name: str
    caption: str
    title: str
    ylabel: str
    series: tuple[tuple[str, str], ...]
    over: str | None = None
    label_with: str | None = None


@dataclass(frozen=True)
class Diagnostic:
    """One measurement: its callback (``None``: taken by a callback every run has), columns and figure."""

    name: str
    callback: str | None
    columns: tuple[str, ...]
    key_columns: tuple[str, ...] = ()
    figure: Figure | None = None


_GRADIENT_NOISE = "kerasbatch.callbacks.gradient_noise:GradientNoise"

REGISTRY: dict[str, Diagnostic] = {d.name: d for d in (
    Diagnostic("gns", _GRADIENT_NOISE, ("true_grad_norm", "gns", "gns_micro_batch", "grad_sq", "trace_sigma"),
               key_columns=("gns",),
               figure=Figure("noise_scale", "Gradient noise scale during training; batch sizes near it use each "
                             "example most efficiently.", "Gradient noise scale during training",
                             "B_simple = tr(Σ) / |G|² (examples)", (("gns", ""),), over="steps")),
    Diagnostic("grad_norm", _GRADIENT_NOISE, ("grad_norm",), key_columns=("grad_norm",),
               figure=Figure("grad_norm_vs_batch", "Gradient norm at the end of training, and its mean over "
                             "training, against batch size.", "Gradient norm vs batch size", "gradient L2 norm",
                             (("grad_norm", "final"), ("grad_norm_mean", "mean over training")))),
    Diagnostic("weight_distance", "kerasbatch.callbacks.weight_distance:WeightDistance", ("weight_distance",),
               key_columns=("weight_distance",),
               figure=Figure("weight_distance", "How far each run's weights have moved from their initial "
                             "values, per epoch.", "Distance travelled from the initial weights",
                             "‖w − w₀‖ (L2 norm)", (("weight_distance", ""),), over="epoch",
                             label_with="optimizer")),
    # Taken by the step timing and the learning-rate log that every run has; the name turns the columns on.
    Diagnostic("step_time", None, ("step_time_median", "step_time_p90")),
    Diagnostic("loss_scale", None, ("loss_scale",)),
)}

NAMES: tuple[str, ...] = tuple(REGISTRY)
"""Every diagnostic, in the order ``--diagnostics all`` lists them."""

COLUMNS: tuple[str, ...] = tuple(c for d in REGISTRY.values() for c in d.columns)
"""Every column a diagnostic writes, summarised as its last and mean value."""

KEY_COLUMNS: tuple[str, ...] = tuple(c for d in REGISTRY.values() for c in d.key_columns)

FIGURES: tuple[Figure, ...] = tuple(d.figure for d in REGISTRY.values() if d.figure is not None)
