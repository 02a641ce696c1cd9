"""The compact table view and how every format writes missing values (no TensorFlow needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from kerasbatch import tables
from tests.study_factory import make_study


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


@pytest.mark.parametrize("fmt, forbidden", [("markdown", ("None", "nan", "<NA>")),
                                            ("html", ("None", "nan", "&lt;NA&gt;")),
                                            ("latex", ("None", "nan", "<NA>"))])
def test_no_format_writes_none_nan_or_na_for_a_missing_value(fmt, forbidden):
    frame = pd.DataFrame({"run_id": ["a", "b"], "steps_to_target": pd.array([12, None], dtype="Int64"),
                          "target": [None, None], "gns": [float("nan"), 3.5], "samples_per_second": [14060.4, None]})
    text = tables.render(frame, fmt)
    assert not any(word in text for word in forbidden), text
    assert "14060" in text and "1.406e+04" not in text and "3.5" in text
