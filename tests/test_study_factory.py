"""The synthetic study folders the report tests read, written through the real store."""

from __future__ import annotations

import pandas as pd

from kerasbatch.store import read_json
from kerasbatch.reports.tables import has_repeats, study_table

from tests.study_factory import TARGET, make_study
from tests.reports.helpers import _seed_stats


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
