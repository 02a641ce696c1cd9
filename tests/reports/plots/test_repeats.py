"""Figures of a study with repeats: the mean of each arm with std error bars and bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from kerasbatch.reports.plots import figures as plots

from tests.reports.helpers import SWEEP_FIGURES, _seed_stats


@pytest.fixture(scope="module")
def arm_figures(arm_study):
    return plots.build_figures(arm_study)


def test_figures_vs_batch_draw_the_mean_of_each_arm_with_std_error_bars(arm_figures, arm_study):
    ax = arm_figures["val_accuracy_vs_batch"].axes[0]
    bars = {container.get_label(): container for container in ax.containers if isinstance(container, ErrorbarContainer)}
    assert set(bars) == {f"{arm}: {series}" for arm in ("base", "linear+warmup")
                         for series in ("best validation", "final validation", "test")}
    for arm in ("base", "linear+warmup"):
        expected = _seed_stats(arm_study, arm, "best_val_accuracy")
        line, _, (segments,) = bars[f"{arm}: best validation"]
        assert np.allclose(line.get_ydata(), expected["mean"])
        # Arms are shifted a little apart along x, so their bars do not overlap.
        assert np.allclose(line.get_xdata(), expected["batch_size"], rtol=0.1)
        lows, highs = np.array([[seg[0][1], seg[1][1]] for seg in segments.get_segments()]).T
        assert np.allclose(lows, expected["mean"] - expected["std"])
        assert np.allclose(highs, expected["mean"] + expected["std"])
    # base at 512 has one ok seed left: its bar has no length
    base = bars["base: best validation"][2][0].get_segments()
    assert base[2][0][1] == pytest.approx(base[2][1][1])


def test_curves_draw_the_mean_over_seeds_with_a_std_band(arm_figures, arm_study):
    ax = arm_figures["learning_curves"].axes[0]  # against epochs
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {f"{arm}, B={b}" for arm in ("base", "linear+warmup") for b in (32, 128, 512)}
    histories = [pd.read_csv(arm_study / f"linear+warmup-bs128-s{seed}" / "history.csv") for seed in (0, 1)]
    values = np.stack([h["val_accuracy"].to_numpy() for h in histories])
    mean, std = values.mean(axis=0), values.std(axis=0, ddof=1)
    line = lines["linear+warmup, B=128"]
    assert np.allclose(line.get_xdata(), [1, 2, 3]) and np.allclose(line.get_ydata(), mean)
    assert std.min() > 0
    band = ax.collections[ax.get_lines().index(line)]  # each mean line is drawn with its band
    low, high = _band_edges(band, [1, 2, 3])
    assert np.allclose(low, mean - std) and np.allclose(high, mean + std)
    assert arm_figures["learning_curves"].legends[0].get_title().get_text() == "mean ± std over seeds"


def _band_edges(band, xs) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper edge of a fill_between band at each x."""
    vertices = band.get_paths()[0].vertices
    edges = [vertices[np.isclose(vertices[:, 0], x), 1] for x in xs]
    return np.array([e.min() for e in edges]), np.array([e.max() for e in edges])


def test_every_curve_figure_of_a_study_with_repeats_is_drawn(arm_figures, arm_study):
    assert set(arm_figures) == set(SWEEP_FIGURES)
    names = {path.stem for path in plots.plot_study(arm_study, arm_study.parent / "figs", formats=("png",))}
    assert names == set(SWEEP_FIGURES)
    steps = arm_figures["steps_to_target"].axes[0]
    assert [c.get_label() for c in steps.containers] == [
        f"{arm}: measured, mean ± std of the seeds on target" for arm in ("base", "linear+warmup")]


def test_a_plain_sweep_has_no_error_bars_or_bands(sweep):
    figures = plots.build_figures(sweep)
    assert not figures["val_accuracy_vs_batch"].axes[0].containers
    assert not any(ax.collections for ax in figures["learning_curves"].axes)


def test_a_mean_curve_ends_where_the_first_seed_stopped():
    from kerasbatch.reports.plots.repeats import mean_curve

    stopped = pd.DataFrame({"epoch": [1, 2], "steps": [10, 20], "val_accuracy": [0.5, 0.9]})
    longer = pd.DataFrame({"epoch": [1, 2, 3], "steps": [10, 20, 30], "val_accuracy": [0.3, 0.7, 0.8]})
    curve = mean_curve([stopped, longer], "steps", "val_accuracy")
    assert curve["x"].tolist() == [10, 20] and np.allclose(curve["mean"], [0.4, 0.8])
    assert np.allclose(curve["std"], [np.std([0.5, 0.3], ddof=1), np.std([0.9, 0.7], ddof=1)])
    assert mean_curve([longer], "epoch", "val_accuracy")["std"].tolist() == [0.0, 0.0, 0.0]
    assert mean_curve([longer.drop(columns="steps")], "steps", "val_accuracy") is None


def test_captions_say_how_repeats_are_drawn_only_for_studies_with_repeats():
    from kerasbatch.reports.plots.repeats import CAPTION

    plain = plots.describe("learning_curves")
    assert CAPTION not in plain and plots.describe("learning_curves", True) == f"{plain} {CAPTION}"
    assert CAPTION not in plots.describe("decision_boundary", True)  # one run per panel
