"""The study table, its compact view and the mean ± std over seeds (no TensorFlow needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from kerasbatch.reports import tables
from kerasbatch.errors import KerasbatchError

from tests.study_factory import make_study
from tests.reports.helpers import _repeated_study


@pytest.fixture(scope="module")
def tune_frame(tmp_path_factory) -> pd.DataFrame:
    """Four tuner trials with a target, one diverged: the widest compact table a search prints."""
    study = make_study(tmp_path_factory.mktemp("out"), batch_sizes=(64, 256, 256, 16384), kind="tune",
                       failed=("trial_0002",))
    return tables.study_table(study)


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_the_compact_view_of_a_search_has_every_key_column_within_120_characters(tune_frame):
    text = tables.render_key(tune_frame)
    header = [cell.strip() for cell in text.splitlines()[0].strip("|").split("|")]
    assert header == ["trial", "batch", "status", "lr", "best acc", "final acc", "ep to target", "s to target",
                      "samples/s", "gns"]
    assert _widest(text) <= tables.MAX_WIDTH
    assert "diverged" in text and "None" not in text and "nan" not in text


def test_cells_too_wide_for_120_characters_cost_columns_in_a_fixed_order(tune_frame):
    long_names = [f"a-very-long-run-name-{i:02d}" * 2 for i in range(4)]
    frame = tune_frame.drop(columns="trial_id").assign(run_id=long_names)
    text = tables.render_key(frame)
    header = [cell.strip() for cell in text.splitlines()[0].strip("|").split("|")]
    assert _widest(text) <= 120 and "run" not in header  # the run column goes first
    assert header[:3] == ["batch", "status", "lr"] and "gns" in header
    narrow = tables.render_key(tune_frame, width=60)
    assert _widest(narrow) <= 60
    assert [cell.strip() for cell in narrow.splitlines()[0].strip("|").split("|")] == [
        "trial", "batch", "status", "best acc", "gns"]


def test_run_ids_are_shown_only_when_they_say_more_than_the_batch_size(tmp_path):
    sweep = tables.study_table(make_study(tmp_path, "sweep"))
    assert "run_id" not in tables.key_view(sweep).columns
    renamed = sweep.assign(run_id=["baseline", "wide", "deep"])
    assert list(tables.key_view(renamed).columns)[:2] == ["run_id", "batch_size"]


def test_columns_without_any_value_are_left_out_of_the_compact_view(tmp_path):
    frame = tables.study_table(make_study(tmp_path, batch_sizes=(1024, 2048)))  # neither reaches the target
    assert frame["epochs_to_target"].isna().all()
    assert "epochs_to_target" not in tables.key_view(frame) and "seconds_to_target" not in tables.key_view(frame)


def test_aggregate_gives_mean_and_std_across_seeds_per_arm_and_batch_size(tmp_path):
    frame = tables.study_table(_repeated_study(tmp_path, arms=("zeta", "alpha")))
    assert tables.has_repeats(frame)
    table = tables.aggregate(frame)
    assert list(table.columns[:3]) == ["arm", "batch_size", "n"]
    assert table[["arm", "batch_size"]].values.tolist() == [["zeta", 32], ["zeta", 256], ["alpha", 32], ["alpha", 256]]
    assert (table["n"] == 3).all()
    assert table["best_val_accuracy_mean"].tolist() == pytest.approx([0.91, 0.91, 0.81, 0.81])
    assert table["best_val_accuracy_std"].tolist() == pytest.approx([0.01] * 4)
    # The seed that never reached the target is left out of its mean: (100 + 200) / 2.
    assert table["steps_to_target_mean"].tolist() == pytest.approx([150.0] * 4)
    assert "seed_mean" not in table.columns and "batch_size_mean" not in table.columns


def test_the_mean_view_sorts_by_a_columns_mean_and_refuses_a_column_without_one(tmp_path, capsys):
    from kerasbatch.cli.app import run

    scores = {("a", 32): (0.70, 0.72), ("a", 256): (0.95, 0.91), ("b", 32): (0.80, 0.90), ("b", 256): (0.60, 0.62)}
    study = _repeated_study(tmp_path, arms=("a", "b"), seeds=(0, 1), accuracy=lambda arm, b, seed: scores[arm, b][seed])
    frame = tables.study_table(study)
    table = tables.aggregate(frame, ["best_val_accuracy"], sort="best_val_accuracy")
    assert table[["arm", "batch_size"]].values.tolist() == [["b", 256], ["a", 32], ["b", 32], ["a", 256]]
    assert tables.aggregate(frame, sort="arm")["arm"].tolist() == ["a", "a", "b", "b"]
    with pytest.raises(KerasbatchError, match="'run_id', which has no mean"):
        tables.aggregate(frame, sort="run_id")
    assert run(["compare", str(study), "--sort", "best_val_accuracy"]) == 0
    rows = [line.split("|")[1:3] for line in capsys.readouterr().out.splitlines()[2:]]
    assert [[cell.strip() for cell in row] for row in rows] == [["b", "256"], ["a", "32"], ["b", "32"], ["a", "256"]]


def test_a_single_run_per_setting_has_no_repeats_and_a_missing_spread(tmp_path):
    sweep = tables.study_table(make_study(tmp_path, "sweep"))
    assert not tables.has_repeats(sweep)
    table = tables.aggregate(sweep, ["best_val_accuracy"])
    assert list(table.columns) == ["arm", "batch_size", "n", "best_val_accuracy_mean", "best_val_accuracy_std"]
    assert set(table["arm"]) == {"base"} and table["best_val_accuracy_std"].isna().all()
    one_arm_two_seeds = tables.study_table(_repeated_study(tmp_path / "b", arms=("base",), seeds=(0, 1)))
    assert tables.has_repeats(one_arm_two_seeds)
    two_arms_one_seed = tables.study_table(_repeated_study(tmp_path / "c", seeds=(0,)))
    assert tables.has_repeats(two_arms_one_seed)


def test_search_trials_sharing_a_batch_size_are_not_repeats(tune_frame):
    assert not tables.has_repeats(tune_frame)  # two trials at batch 256, with different learning rates


def test_compare_shows_the_diagnostic_columns(digits_sweep):
    from kerasbatch.reports.tables import study_table

    store, _ = digits_sweep
    table = study_table(store.study_dir)
    for column in ("grad_norm", "gns", "weight_distance"):
        assert column in table.columns and table[column].notna().all()
    history = pd.read_csv(store.study_dir / "bs256" / "history.csv")
    assert {"gns", "grad_sq", "trace_sigma", "grad_norm", "weight_distance"} <= set(history.columns)
