"""Tables as text: every format writes a missing value as an empty cell, and the mean ± std cells."""

from __future__ import annotations

import pandas as pd
import pytest

from kerasbatch.reports import tables

from tests.reports.helpers import _repeated_study


@pytest.mark.parametrize("fmt, forbidden", [("markdown", ("None", "nan", "<NA>")),
                                            ("html", ("None", "nan", "&lt;NA&gt;")),
                                            ("latex", ("None", "nan", "<NA>"))])
def test_no_format_writes_none_nan_or_na_for_a_missing_value(fmt, forbidden):
    frame = pd.DataFrame({"run_id": ["a", "b"], "steps_to_target": pd.array([12, None], dtype="Int64"),
                          "target": [None, None], "gns": [float("nan"), 3.5], "samples_per_second": [14060.4, None]})
    text = tables.render(frame, fmt)
    assert not any(word in text for word in forbidden), text
    assert "14060" in text and "1.406e+04" not in text and "3.5" in text


def test_the_mean_std_view_writes_each_setting_as_mean_plus_minus_std_with_counts(tmp_path):
    frame = tables.study_table(_repeated_study(tmp_path))
    view = tables.aggregate_view(frame)
    assert list(view.columns) == ["arm", "batch_size", "n", "best_val_accuracy", "steps_to_target"]
    assert view.iloc[0].tolist() == ["linear", 32, 3, "0.910 ± 0.010", "150 ± 71 (2/3)"]
    text = tables.render_aggregate(frame)
    assert text.splitlines()[0].split("|")[1:-1] == [" arm    ", " batch ", " n ", "      best acc ",
                                                      " steps to target "]
    assert "| none   |   256 | 3 | 0.810 ± 0.010 |  150 ± 71 (2/3) |" in text
