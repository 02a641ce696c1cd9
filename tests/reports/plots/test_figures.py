"""The figures of a study folder, as PNG and SVG (no TensorFlow needed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from kerasbatch.reports.plots import figures as plots
from kerasbatch.errors import KerasbatchError
from kerasbatch.reports.html import write_report
from kerasbatch.store import read_json, write_json

from tests.study_factory import make_study
from tests.reports.helpers import SWEEP_FIGURES, _legend_labels


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep_plots(sweep) -> list[Path]:
    return plots.plot_study(sweep)


def _assert_valid_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = mpimg.imread(path)
    assert image.shape[0] > 0 and image.shape[1] > 0


def _assert_valid_svg(path: Path) -> None:
    assert path.stat().st_size > 0
    assert ET.parse(path).getroot().tag.split("}")[-1] == "svg"


def test_every_figure_is_written_as_valid_png_and_svg(sweep, sweep_plots):
    expected = [sweep / "plots" / f"{name}.{fmt}" for name in SWEEP_FIGURES for fmt in ("png", "svg")]
    assert sweep_plots == expected
    for path in sweep_plots:
        if path.suffix == ".png":
            _assert_valid_png(path)
        else:
            _assert_valid_svg(path)


def test_plot_files_are_replaced_whole_leaving_no_temporary_files(sweep, sweep_plots):
    again = plots.plot_study(sweep, formats=("svg",))
    assert again == [path for path in sweep_plots if path.suffix == ".svg"]
    assert sorted(p.name for p in (sweep / "plots").iterdir()) == sorted(p.name for p in sweep_plots)


def test_steps_to_target_legend_gives_the_fitted_s_min_and_b_noise(sweep):
    labels = _legend_labels(plots.build_figures(sweep)["steps_to_target"])
    fit = next(label for label in labels if label.startswith("fit"))
    s_min = float(fit.split("S_min = ")[1].split()[0])
    b_noise = float(fit.split("B_noise = ")[1])
    assert s_min > 0 and b_noise > 0


def test_steps_to_target_is_skipped_when_fewer_than_two_runs_reach_the_target(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 1024, 2048))  # only 32 reaches it in 3 epochs
    written = {path.stem for path in plots.plot_study(study, formats=("png",))}
    assert written == set(SWEEP_FIGURES) - {"steps_to_target"}


def test_a_failed_run_is_left_out_of_the_curves_and_the_rest_still_plot(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 128, 512), failed=(128,))
    written = plots.plot_study(study, tmp_path / "figs", formats=("png",))
    assert {path.stem for path in written} == set(SWEEP_FIGURES)
    assert _legend_labels(plots.build_figures(study)["learning_curves"]) == ["B=32", "B=512"]


def test_tuner_trials_sharing_a_batch_size_are_labelled_by_run_id(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 32, 128), kind="tune")
    figures = plots.build_figures(study)
    assert _legend_labels(figures["learning_curves"]) == [
        "trial_0001 (B=32)", "trial_0002 (B=32)", "trial_0003 (B=128)"]
    assert _legend_labels(figures["weight_distance"])[0] == "trial_0001 (B=32), sgd"
    points = figures["val_accuracy_vs_batch"].axes[0].get_lines()[0]
    assert len(points.get_xdata()) == 3 and points.get_linestyle() == "None"
    assert len(plots.plot_study(study, formats=("svg",))) == len(figures)


def test_a_figure_whose_data_is_missing_is_skipped_not_drawn_empty(tmp_path):
    study = make_study(tmp_path)
    for run in ("bs32", "bs128", "bs512"):
        history = pd.read_csv(study / run / "history.csv").drop(columns=["gns", "weight_distance"])
        history.to_csv(study / run / "history.csv", index=False)
        summary = read_json(study / run / "summary.json")
        write_json(study / run / "summary.json", {**summary, "grad_norm": None, "grad_norm_mean": None})
    names = {path.stem for path in plots.plot_study(study, formats=("png",))}
    assert names == set(SWEEP_FIGURES) - {"noise_scale", "weight_distance", "grad_norm_vs_batch"}


def test_an_unfinished_run_folder_is_ignored(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 512))
    (study / "bs64").mkdir()
    (study / "bs64" / "config.json").write_text("{}")
    (study / "bs64" / "history.csv").write_text("epoch,val_accuracy\n1,0.5\n")
    assert _legend_labels(plots.build_figures(study)["learning_curves"]) == ["B=32", "B=512"]
    assert "Unfinished, so left out: bs64" in write_report(study).read_text()


def test_an_unknown_plot_format_is_a_user_error(sweep, tmp_path):
    with pytest.raises(KerasbatchError, match="unknown plot format 'docx'"):
        plots.plot_study(sweep, tmp_path, formats=("png", "docx"))
    assert not list(tmp_path.iterdir())
