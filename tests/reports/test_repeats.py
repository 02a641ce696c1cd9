"""The report of a study with arms or repeats: mean ± std per arm and batch size, and its finding."""

from __future__ import annotations

import re

from kerasbatch.reports.html import write_report

from tests.study_factory import make_arm_study
from tests.reports.helpers import _Page, _ok_runs, _sections, _seed_stats, _tables


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


def test_a_study_with_repeats_and_no_ok_run_says_why_there_is_no_best(tmp_path, without_figures):
    runs = [f"{arm}-bs{b}-s{seed}" for arm in ("base", "linear+warmup") for b in (32, 64) for seed in (0, 1)]
    study = make_arm_study(tmp_path, batch_sizes=(32, 64), failed=runs)
    finding = re.search(r'<p class="finding">(.*?)</p>', write_report(study).read_text()).group(1)
    assert finding.startswith("No best batch size by mean validation accuracy: no ok run in ")
    assert finding.endswith("every run failed.")
