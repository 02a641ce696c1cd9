"""The decision boundary of 2-D data, drawn from the runs' saved models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasbatch.reports.plots import figures as plots


@pytest.fixture(scope="module")
def dots_arms(tmp_path_factory) -> Path:
    """Two arms × batch sizes 16 and 128 of one real epoch each on 300 dots (TensorFlow only here)."""
    from kerasbatch.training import train
    from kerasbatch.config.run import DataConfig, OptimConfig
    from kerasbatch.store import Store
    from tests.conftest import dots_run

    store = Store(tmp_path_factory.mktemp("out"), "dots")
    for arm, lr in (("slow", 0.05), ("fast", 0.2)):
        for batch_size in (16, 128):
            config = dots_run(data=DataConfig(dataset="dots", dots_samples=300), optim=OptimConfig(learning_rate=lr),
                              batch_size=batch_size, epochs=1, diagnostics=())
            train.run(config, store, f"{arm}-bs{batch_size}-s0", verbose=0, extra={"arm": arm})
    return store.study_dir


def test_decision_boundary_draws_the_models_half_probability_line_over_the_points(dots_arms):
    import keras
    from matplotlib.colors import to_rgba

    from kerasbatch.data import datasets as data
    from kerasbatch.config.run import DataConfig

    fig = plots.build_figures(dots_arms)["decision_boundary"]
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    # Without a study file listing the arms, the table orders them by name.
    assert [ax.get_title().split(" (")[0] for ax in axes] == ["fast, B=16", "fast, B=128", "slow, B=16", "slow, B=128"]
    model = keras.saving.load_model(dots_arms / "slow-bs128-s0" / "model.keras", compile=False)
    boundary = next(c for c in axes[3].collections if list(getattr(c, "levels", [])) == [0.5])
    line = np.concatenate([path.vertices for path in boundary.get_paths()])
    assert len(line) > 10
    probability = model.predict(line.astype("float32"), verbose=0)[:, 1]
    assert np.abs(probability - 0.5).max() < 0.02  # the line is where the model cannot decide
    # Every training point is drawn, red for class 0 and blue for class 1.
    dataset = data.load(DataConfig(dataset="dots", dots_samples=300))
    points = axes[3].collections[-1]
    order = np.lexsort(points.get_offsets().T)
    drawn, expected = np.asarray(points.get_offsets())[order], dataset.x_train[np.lexsort(dataset.x_train.T)]
    assert np.allclose(drawn, expected)
    blue = np.isclose(points.get_facecolors()[order][:, 2], to_rgba("tab:blue")[2])
    assert np.array_equal(blue, dataset.y_train[np.lexsort(dataset.x_train.T)] == 1)


def test_decision_boundary_needs_2d_inputs_and_saved_models(dots_arms, tmp_path):
    import shutil

    copy = shutil.copytree(dots_arms, tmp_path / "dots")
    for model in copy.glob("*/model.keras"):
        model.unlink()
    assert "decision_boundary" not in plots.build_figures(copy)
