"""The figure of runs whose batch size changed: the batch over training, next to the noise scale.

Reads only the runs' ``history.csv`` (``batch_size``, ``lr`` and ``gns`` per epoch), no TensorFlow.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kerasbatch.reports.plots.base import Study, column, legend, new_figure


def changing_runs(study: Study) -> dict[str, pd.DataFrame]:
    """The histories whose ``batch_size`` column takes more than one value, by run id."""
    out = {}
    for run_id, history in study.histories.items():
        sizes = column(history, "batch_size")
        if sizes is not None and sizes.dropna().nunique() > 1:
            out[run_id] = history
    return out


def batch_schedule(study: Study) -> Figure | None:
    """Batch size and learning rate over training for runs whose batch changed, above the gradient noise
    scale they followed (``--batch-schedule adaptive`` grows the batch as the noise scale grows)."""
    runs = changing_runs(study)
    if not runs:
        return None
    fig, (ax_batch, ax_rate, ax_noise) = new_figure("Batch size over training, next to the noise scale",
                                                    nrows=3, sharey=False, height=2.6)
    for run_id, history in runs.items():
        epoch, color = history["epoch"], study.colors.get(run_id)
        ax_batch.step(epoch, history["batch_size"], where="pre", color=color, label=run_id)
        rate = column(history, "lr")
        if rate is not None:
            ax_rate.step(epoch, rate, where="pre", color=color)
        noise = column(history, "gns")
        if noise is not None:
            ax_noise.plot(epoch, noise, marker="o", fillstyle="none", color=color)
            ax_noise.step(epoch, history["batch_size"], where="pre", color=color, alpha=0.35, linestyle="--")
    ax_batch.set_ylabel("batch size")
    ax_batch.set_yscale("log", base=2)
    ax_rate.set_ylabel("learning rate")
    ax_noise.set_ylabel("noise scale (examples)\n-- batch size")
    ax_noise.set_yscale("log")
    for ax in (ax_batch, ax_rate, ax_noise):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_noise.set_xlabel("epoch")
    legend(ax_batch)
    return fig
