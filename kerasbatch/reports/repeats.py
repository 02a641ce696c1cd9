"""The report's pieces for a study with arms or repeats: the mean ± std table and the finding.

Both follow the command line: the table holds ``kerasbatch compare``'s cells (every column kept, as the
page has room), and the finding names the (arm, batch size) that ``export --best`` picks.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from kerasbatch.reports import tables
from kerasbatch.reports import best as ranking
from kerasbatch.errors import KerasbatchError

def mean_std_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (arm, batch size) of :func:`kerasbatch.reports.tables.study_table` ``frame``: the runs, then
    ``mean ± std`` over seeds, ``(k/n)`` when only k of n runs had a value; no arm column for one arm."""
    return tables.aggregate_view(frame).rename(columns=tables.AGGREGATE_VIEW)


def best_by_mean(study_dir: Path, frame: pd.DataFrame, metric: str, words: str) -> str:
    """The finding as HTML: the (arm, batch size) that ``export --best`` picks (the best mean over seeds,
    complete settings first), the mean ± std of its ok runs and its best seed; ``words`` name the metric."""
    field = ranking.METRICS[metric][0]
    try:
        run_id = ranking.best_run_id(frame, metric, study_dir)
    except KerasbatchError as exc:
        return f"No best batch size by mean {html.escape(words)}: {html.escape(str(exc))}."
    run = frame.set_index("run_id").loc[run_id]
    arm = run.get("arm") if isinstance(run.get("arm"), str) else tables.DEFAULT_ARM
    ok = tables.aggregate(frame[frame["status"] == "ok"], [field]).set_index(["arm", "batch_size"])
    best = ok.loc[(arm, run["batch_size"])]
    value = tables.mean_std_cells(pd.Series([best[f"{field}_mean"]]), pd.Series([best[f"{field}_std"]]), [1], [1],
                                  count_like=field in tables.INTEGER_COLUMNS)[0] + (" s" if metric == "seconds_to_target" else "")
    named = f"arm <strong>{html.escape(arm)}</strong> at " if ok.index.get_level_values("arm").nunique() > 1 else ""
    runs = int(best["n"])
    return (f"Best by mean {html.escape(words)} over seeds: {named}batch size <strong>{int(run['batch_size'])}"
            f"</strong> ({html.escape(field)} {html.escape(value)} over {runs} ok run{'' if runs == 1 else 's'}; "
            f"best seed: run {html.escape(run_id)}).")
