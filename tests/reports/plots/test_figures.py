"""Tests for the figures and the HTML report, on synthetic study folders (no TensorFlow needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from kerasbatch.reports.plots import figures as plots
from kerasbatch.errors import KerasbatchError
from kerasbatch.reports.html import write_report
from kerasbatch.store import read_json, write_json
from kerasbatch.reports.tables import has_repeats, study_table
from tests.study_factory import TARGET, make_arm_study, make_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What a fixed-batch study drawn from summaries and histories alone shows: the decision boundary needs
# saved models of 2-D data, the batch schedule runs whose batch size changed.
SWEEP_FIGURES = tuple(name for name in plots.FIGURES if name not in ("decision_boundary", "batch_schedule"))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("out"), "sweep")


@pytest.fixture(scope="module")
def sweep_plots(sweep) -> list[Path]:
    return plots.plot_study(sweep)


@pytest.fixture
def without_figures(monkeypatch):
    """For report tests about text only: drawing is the slow part and is tested on its own."""
    monkeypatch.setattr(plots, "plot_study", lambda *args, **kwargs: [])


def _assert_valid_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = mpimg.imread(path)
    assert image.shape[0] > 0 and image.shape[1] > 0


def _assert_valid_svg(path: Path) -> None:
    assert path.stat().st_size > 0
    assert ET.parse(path).getroot().tag.split("}")[-1] == "svg"


def _legend_labels(fig) -> list[str]:
    legend = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
    return [text.get_text() for text in legend.get_texts()]


class _Page(HTMLParser):
    """Collects a page's table rows (cell texts) and every tag attribute."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.attributes: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.attributes += [(name, value or "") for name, value in attrs]
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: _Page, first: str) -> list[pd.DataFrame]:
    """Every table whose header row starts with ``first``, in page order."""
    found = []
    for start in [i for i, row in enumerate(page.rows) if row[:1] == [first]]:
        header, body = page.rows[start], []
        for row in page.rows[start + 1:]:
            if len(row) != len(header) or row[:1] == [first]:
                break
            body.append(row)
        found.append(pd.DataFrame(body, columns=header))
    return found


def _comparison_rows(page: _Page, first: str = "run_id") -> pd.DataFrame:
    """The widest table whose header row starts with ``first`` (``run_id``: the table of every column)."""
    return max(_tables(page, first), key=lambda table: len(table.columns))


# -- the study factory --------------------------------------------------------------------------------

def test_make_study_writes_runs_that_the_comparison_table_reads(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 512, 1024), failed=(512,))
    frame = study_table(study)
    assert list(frame["batch_size"]) == [32, 512, 1024]
    assert list(frame["status"]) == ["ok", "diverged", "ok"]
    assert frame["steps_to_target"].notna().tolist() == [True, False, False]  # 1024 is too slow
    assert pd.isna(frame.loc[1, "final_val_accuracy"])
    assert read_json(study / "bs512" / "summary.json")["final_val_accuracy"] is None  # JSON has no NaN
    history = pd.read_csv(study / "bs32" / "history.csv")
    assert len(history) == 3 and {"steps", "elapsed", "gns", "grad_norm", "weight_distance"} <= set(history)
    assert history["val_accuracy"].is_monotonic_increasing and history["val_accuracy"].iloc[-1] > TARGET


# -- plots ---------------------------------------------------------------------------------------------

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


def test_plots_and_report_never_import_tensorflow(sweep, tmp_path):
    code = (
        "import sys; from kerasbatch.reports.html import write_report\n"  # the report draws every plot
        f"write_report({str(sweep)!r}, {str(tmp_path / 'r.html')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[3])
    assert result.stdout.strip() == "[]"


# -- report --------------------------------------------------------------------------------------------

def test_report_is_one_self_contained_page_with_the_table_and_every_figure(tmp_path):
    study = make_study(tmp_path, "mnist-sweep", batch_sizes=(32, 128, 512, 1024), failed=(128,))
    path = write_report(study)
    assert path == study / "report.html"
    text = path.read_text()
    page = _Page(text)
    table = _comparison_rows(page)
    assert sorted(table["batch_size"].astype(int)) == [32, 128, 512, 1024]
    assert table.set_index("run_id").loc["bs128", "status"] == "diverged"
    assert text.count("data:image/png;base64,") == len(plots.build_figures(study)) == len(SWEEP_FIGURES)
    assert "http://" not in text and "https://" not in text
    assert all(value.startswith("data:") for name, value in page.attributes if name in ("src", "href"))
    assert "<title>kerasbatch report: mnist-sweep</title>" in text and "Generated by kerasbatch on" in text
    assert "3 ok" in text and "1 diverged" in text
    compact = _comparison_rows(page, "batch")
    assert list(compact.columns) == ["batch", "status", "lr", "best acc", "final acc", "ep to target",
                                     "s to target", "samples/s", "gns"]
    assert compact["batch"].tolist() == ["32", "128", "512", "1024"]
    # Figures are drawn in a scratch folder; the report adds nothing else to the study.
    assert not (study / "plots").exists() and not list(study.glob(".*tmp*"))


def test_report_escapes_text_from_the_study_folder(tmp_path, without_figures):
    study = make_study(tmp_path, batch_sizes=(32, 128), failed=(128,))
    manifest = read_json(study / "study.json")
    manifest["settings"]["note"] = "<script>alert(1)</script>"
    write_json(study / "study.json", manifest)
    summary = read_json(study / "bs128" / "summary.json")
    write_json(study / "bs128" / "summary.json", {**summary, "error": "<img src=x onerror=alert(2)>"})
    text = write_report(study).read_text()
    assert "<script" not in text.lower() and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


def test_suggestion_section_appears_only_when_suggestion_json_exists(tmp_path, without_figures):
    study = make_study(tmp_path)
    assert 'id="suggestion"' not in write_report(study).read_text()
    write_json(study / "suggestion.json", {"batch_size": 256, "learning_rate": 0.08, "predicted_speedup": 2.5,
                                           "reason": "B_noise ≈ 300 & throughput flattens", "b_noise": 301.5})
    text = write_report(study, tmp_path / "elsewhere" / "r.html").read_text()
    assert 'id="suggestion"' in text
    assert "<strong>256</strong>" in text and "×2.5" in text and "B_noise ≈ 300 &amp; throughput" in text
    assert "<th>b_noise</th><td>301.5</td>" in text
    assert "No figure had data to draw." in text


def test_report_of_a_folder_without_finished_runs_is_a_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(KerasbatchError, match="no finished runs"):
        write_report(tmp_path / "empty")


def _sections(text: str) -> list[str]:
    """The ids of the page's sections and folded parts, in page order."""
    return re.findall(r'<(?:section|details) id="([a-z-]+)"', text)


def test_report_opens_with_the_best_batch_size_then_the_key_figure_and_table_and_folds_the_rest(tmp_path):
    study = make_study(tmp_path, batch_sizes=(32, 128, 512, 1024), failed=(32,))
    write_json(study / "suggestion.json", {"batch_size": 256, "reason": "B_noise ≈ 300"})
    text = write_report(study).read_text()
    best = study_table(study).query("status == 'ok'").sort_values("best_val_accuracy").iloc[-1]
    assert best["batch_size"] == 128  # bs32 would be better, but it diverged
    finding = re.search(r'<p class="finding">(.*?)</p>', text).group(1)
    assert finding == (f"Best batch size by validation accuracy: <strong>128</strong> at learning rate "
                       f"{best['learning_rate']:.6g} (best_val_accuracy {best['best_val_accuracy']:.4g}, run bs128).")
    assert _sections(text) == ["finding", "suggestion", "key-figure", "comparison", "differences", "figures",
                               "all-columns", "all-settings"]
    key_figure = text.split('<section id="key-figure">')[1].split("</section>")[0]
    assert key_figure.count("<img") == 1 and 'id="fig-val_accuracy_vs_batch"' in key_figure
    folded = text.split('<details id="all-settings">')[1]
    assert "<th>base_batch_size</th><td>32</td>" in folded and "base_batch_size" not in text.split("<details")[0]


def test_a_tune_study_is_judged_by_its_objective(tmp_path, without_figures):
    study = make_study(tmp_path, batch_sizes=(64, 256, 256, 1024), kind="tune")
    manifest = read_json(study / "study.json")
    manifest["settings"]["objective"] = "seconds_to_target"
    write_json(study / "study.json", manifest)
    fastest = study_table(study).sort_values("seconds_to_target").iloc[0]
    finding = re.search(r'<p class="finding">(.*?)</p>', write_report(study).read_text()).group(1)
    assert finding.startswith(f"Best batch size by seconds to the target: <strong>{fastest['batch_size']}</strong>")
    assert f"(seconds_to_target {fastest['seconds_to_target']:.4g} s, run {fastest['run_id']})" in finding


def test_without_an_ok_run_the_finding_says_why(tmp_path, without_figures):
    study = make_study(tmp_path, batch_sizes=(32, 64), failed=(32, 64))
    finding = re.search(r'<p class="finding">(.*?)</p>', write_report(study).read_text()).group(1)
    assert finding.startswith("No best batch size by validation accuracy: no ok run in ") and "every run failed" in finding


def test_the_settings_that_differ_between_runs_are_shown_run_by_run(tmp_path, without_figures):
    study = make_study(tmp_path, batch_sizes=(32, 512))
    page = _Page(write_report(study).read_text())
    differ = _tables(page, "run_id")[0]  # then comes the table of every column
    assert list(differ.columns) == ["run_id", "batch_size", "learning_rate", "seed"]  # epochs is shared
    assert differ.values.tolist() == [["bs32", "32", "0.01", "1"], ["bs512", "512", "0.16", "2"]]


def test_missing_values_show_as_empty_cells_or_a_dash_never_none_or_nan(tmp_path, without_figures):
    study = make_study(tmp_path, batch_sizes=(32, 1024), failed=(1024,))
    manifest = read_json(study / "study.json")
    manifest["settings"]["note"] = None
    write_json(study / "study.json", manifest)
    text = write_report(study).read_text()
    cells = re.findall(r"<td>([^<]*)</td>", text)
    assert not {"None", "nan", "NaN", "&lt;NA&gt;", "<NA>"} & set(cells)
    assert "" in cells and "<th>note</th><td>—</td>" in text
    row = _comparison_rows(_Page(text)).set_index("run_id").loc["bs1024"]
    assert row["best_val_accuracy"] == "" and row["steps_to_target"] == "" and row["status"] == "diverged"


# -- arms and repeats ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def arm_study(tmp_path_factory) -> Path:
    """Two arms × three batch sizes × two seeds; one seed of base at 512 diverged."""
    return make_arm_study(tmp_path_factory.mktemp("out"), failed=("base-bs512-s1",))


@pytest.fixture(scope="module")
def arm_figures(arm_study):
    return plots.build_figures(arm_study)


def _ok_runs(study: Path) -> pd.DataFrame:
    frame = study_table(study)
    return frame[frame["status"] == "ok"]


def _seed_stats(study: Path, arm: str, column: str) -> pd.DataFrame:
    """Mean and sample std across the ok seeds of ``arm``, per batch size, computed here with numpy."""
    runs = _ok_runs(study).query("arm == @arm")
    return pd.DataFrame([{"batch_size": b, "mean": np.mean(v), "std": np.std(v, ddof=1) if len(v) > 1 else 0.0}
                         for b, v in ((b, group[column].to_numpy(float)) for b, group in runs.groupby("batch_size"))])


def test_make_arm_study_names_runs_by_arm_batch_and_seed(arm_study):
    frame = study_table(arm_study)
    assert len(frame) == 12 and has_repeats(frame)
    run = read_json(arm_study / "linear+warmup-bs128-s1" / "summary.json")
    assert (run["arm"], run["batch_size"], run["seed"]) == ("linear+warmup", 128, 1)
    assert frame.set_index("run_id").loc["base-bs512-s1", "status"] == "diverged"
    # Seeds differ, and the warm-up arm learns better in this fake.
    assert _seed_stats(arm_study, "linear+warmup", "best_val_accuracy")["std"].gt(0).all()
    assert (_seed_stats(arm_study, "linear+warmup", "best_val_accuracy")["mean"]
            > _seed_stats(arm_study, "base", "best_val_accuracy")["mean"]).all()


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


def test_report_of_a_study_with_arms_gives_mean_and_std_per_arm_and_batch(arm_study, tmp_path, without_figures):
    text = write_report(arm_study, tmp_path / "r.html").read_text()
    assert _sections(text)[:4] == ["finding", "key-figure", "comparison", "differences"]
    comparison = text.split('<section id="comparison">')[1].split("</section>")[0]
    assert "<h2>Comparison: mean ± std over seeds</h2>" in comparison
    (table,) = _tables(_Page(comparison), "arm")
    assert list(table.columns[:5]) == ["arm", "batch", "n", "lr", "best acc"]
    assert table[["arm", "batch", "n"]].values.tolist() == [
        ["base", "32", "2"], ["base", "128", "2"], ["base", "512", "2"],
        ["linear+warmup", "32", "2"], ["linear+warmup", "128", "2"], ["linear+warmup", "512", "2"]]
    for arm in ("base", "linear+warmup"):
        stats = _seed_stats(arm_study, arm, "best_val_accuracy")
        cells = table.loc[table["arm"] == arm, "best acc"].tolist()
        expected = [f"{m:.3f} ± {s:.3f}" for m, s in zip(stats["mean"], stats["std"])]
        if arm == "base":  # one of two seeds ok at 512: its value, and how many runs it stands for
            expected[2] = f"{stats['mean'].iloc[2]:.3f} (1/2)"
        assert cells == expected
    best = _seed_stats(arm_study, "linear+warmup", "best_val_accuracy").iloc[0]  # the highest mean of all
    seeds = _ok_runs(arm_study).query("run_id.str.startswith('linear+warmup-bs32-')", engine="python")
    best_seed = seeds.sort_values("best_val_accuracy")["run_id"].iloc[-1]
    finding = re.search(r'<p class="finding">(.*?)</p>', text).group(1)
    assert finding == ("Best by mean validation accuracy over seeds: arm <strong>linear+warmup</strong> at batch "
                       f"size <strong>32</strong> (best_val_accuracy {best['mean']:.3f} ± {best['std']:.3f} over 2 "
                       f"ok runs; best seed: run {best_seed}).")


def test_with_repeats_of_one_arm_the_finding_names_the_batch_size_only(tmp_path, without_figures):
    study = make_arm_study(tmp_path, arms={"base": 0.0}, batch_sizes=(64, 256), seeds=(0, 1, 2))
    text = write_report(study).read_text()
    finding = re.search(r'<p class="finding">(.*?)</p>', text).group(1)
    assert finding.startswith("Best by mean validation accuracy over seeds: batch size <strong>64</strong> (")
    assert "over 3 ok runs; best seed: run base-bs64-s" in finding
    (table,) = _tables(_Page(text), "batch")  # one arm: no arm column
    assert list(table.columns[:3]) == ["batch", "n", "lr"] and table["n"].tolist() == ["3", "3"]
    assert all(" ± " in cell for cell in table["best acc"])


# -- decision boundary ---------------------------------------------------------------------------------

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


def test_a_study_with_repeats_and_no_ok_run_says_why_there_is_no_best(tmp_path, without_figures):
    runs = [f"{arm}-bs{b}-s{seed}" for arm in ("base", "linear+warmup") for b in (32, 64) for seed in (0, 1)]
    study = make_arm_study(tmp_path, batch_sizes=(32, 64), failed=runs)
    finding = re.search(r'<p class="finding">(.*?)</p>', write_report(study).read_text()).group(1)
    assert finding.startswith("No best batch size by mean validation accuracy: no ok run in ")
    assert finding.endswith("every run failed.")
