"""The decision boundary a classifier learned on 2-D points (the ``dots`` set), drawn over the data.

Per arm, the runs at the smallest and the largest batch size (their first seed) are loaded from their
``model.keras`` and evaluated on a grid covering the training points. This is the one figure that
needs TensorFlow: it is imported only when the study's runs saw 2-D inputs and saved their models,
so plotting any other study stays TensorFlow-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kerasbatch.reports.plots.base import Study, new_figure
from kerasbatch.store import MODEL, Store

GRID_POINTS = 200  # per axis: a smooth contour at a cost of 40 000 predictions per model
MAX_POINTS = 800  # data points drawn per panel; more would hide the boundary
POINT_COLORS = ("tab:red", "tab:blue")  # the dots set's two classes


def decision_boundary(study: Study) -> Figure | None:
    """Where the model's prediction changes class (black line: probability 0.5) over the training
    points (red and blue: the two classes; shading: the probability of blue), at the smallest and the
    largest batch size of each arm. 2-D datasets only."""
    chosen = _chosen_runs(study)
    if not chosen:
        return None
    ncols = max(len(runs) for runs in chosen.values())
    fig, axes = new_figure("Learned decision boundary", ncols=ncols, nrows=len(chosen), width=4.2,
                           height=3.9, sharey=False)
    store = Store.from_dir(study.study_dir)
    for row, (arm, runs) in enumerate(chosen.items()):
        for col in range(ncols):
            ax = axes[row * ncols + col]
            if col >= len(runs):
                ax.set_visible(False)
                continue
            _draw_run(ax, store, runs.iloc[col], arm if len(chosen) > 1 else None)
    return fig


def is_two_dimensional(summary: dict) -> bool:
    """The run's training examples are points in the plane (its summary records their shape)."""
    shape = (summary.get("data") or {}).get("x_train_shape") or []
    return len(shape) == 2 and shape[1] == 2


def _chosen_runs(study: Study) -> dict[str | None, pd.DataFrame]:
    """Per arm (None without arms), the first-seed runs at its smallest and largest batch size that
    saved a model of 2-D inputs."""
    store = Store.from_dir(study.study_dir)
    runs = study.runs
    usable = [(store.run_dir(r) / MODEL).is_file() and is_two_dimensional(store.read_summary(r))
              for r in runs["run_id"]]
    runs = runs[usable]
    if runs.empty:
        return {}
    sort = [c for c in ("batch_size", "seed", "run_id") if c in runs.columns]
    groups = runs.groupby("arm", sort=False) if "arm" in runs.columns else [(None, runs)]
    chosen = {}
    for arm, own in groups:
        own = own.sort_values(sort, kind="stable")
        ends = own[own["batch_size"].isin([own["batch_size"].min(), own["batch_size"].max()])]
        chosen[arm] = ends.drop_duplicates("batch_size")
    return chosen


def _draw_run(ax: Axes, store: Store, run: pd.Series, arm: str | None) -> None:
    from kerasbatch.data import datasets as data
    from kerasbatch.config.run import RunConfig

    dataset = data.load(RunConfig.from_dict(store.read_config(run["run_id"])).data)
    x, y = dataset.x_train, dataset.y_train
    low, high = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], GRID_POINTS), np.linspace(low[1], high[1], GRID_POINTS))
    probability = _predict(store.run_dir(run["run_id"]) / MODEL, np.c_[grid_x.ravel(), grid_y.ravel()])
    if probability.shape[1] == 2:
        surface, levels = probability[:, 1].reshape(grid_x.shape), [0.5]
        ax.contourf(grid_x, grid_y, surface, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.35)
    else:  # more classes: the boundaries between the predicted classes
        surface = probability.argmax(axis=1).reshape(grid_x.shape)
        levels = np.arange(probability.shape[1] - 1) + 0.5
    ax.contour(grid_x, grid_y, surface, levels=levels, colors="black", linewidths=1.5)
    shown = np.random.default_rng(0).permutation(len(x))[:MAX_POINTS]
    colors = np.array(POINT_COLORS + ("tab:gray",) * max(0, dataset.num_classes - 2))[y[shown]]
    ax.scatter(x[shown, 0], x[shown, 1], c=colors, s=6, linewidths=0)
    accuracy = pd.to_numeric(pd.Series([run.get("best_val_accuracy")]), errors="coerce").iloc[0]
    name = f"{arm}, " if arm is not None else ""
    ax.set_title(f"{name}B={run['batch_size']:.0f}" + (f" (val acc {accuracy:.3f})" if pd.notna(accuracy) else ""),
                 fontsize="medium")
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])


def _predict(path: Path, points: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Class probabilities of the saved model at ``points`` (no optimizer state is needed to predict)."""
    import keras

    model = keras.saving.load_model(path, compile=False)
    # Called directly, not through predict(): a predict function traced per loaded model makes
    # TensorFlow warn about retracing once a figure holds a few panels.
    parts = [keras.ops.convert_to_numpy(model(points[i:i + chunk].astype("float32"), training=False))
             for i in range(0, len(points), chunk)]
    return np.concatenate(parts).astype(float)
