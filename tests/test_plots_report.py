"""Tests for the figures and the HTML report, on synthetic study folders (no TensorFlow needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from kerasbatch import plots
from kerasbatch.errors import KerasbatchError
from kerasbatch.report import write_report
from kerasbatch.store import read_json, write_json
from kerasbatch.tables import study_table
from tests.study_factory import TARGET, make_study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What a study drawn from summaries and histories alone shows: the decision boundary needs saved models.
SWEEP_FIGURES = tuple(name for name in plots.FIGURES if name != "decision_boundary")


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
        "import sys; from kerasbatch.report import write_report\n"  # the report draws every plot
        f"write_report({str(sweep)!r}, {str(tmp_path / 'r.html')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[1])
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
