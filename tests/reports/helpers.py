"""Reading what the figures and the report show, and study folders for the table tests."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbatch.reports.plots import figures as plots
from kerasbatch.reports.tables import study_table


# What a fixed-batch study drawn from summaries and histories alone shows: the decision boundary needs
# saved models of 2-D data, the batch schedule runs whose batch size changed.
SWEEP_FIGURES = tuple(name for name in plots.FIGURES if name not in ("decision_boundary", "batch_schedule"))


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


def _sections(text: str) -> list[str]:
    """The ids of the page's sections and folded parts, in page order."""
    return re.findall(r'<(?:section|details) id="([a-z-]+)"', text)


def _ok_runs(study: Path) -> pd.DataFrame:
    frame = study_table(study)
    return frame[frame["status"] == "ok"]


def _seed_stats(study: Path, arm: str, column: str) -> pd.DataFrame:
    """Mean and sample std across the ok seeds of ``arm``, per batch size, computed here with numpy."""
    runs = _ok_runs(study).query("arm == @arm")
    return pd.DataFrame([{"batch_size": b, "mean": np.mean(v), "std": np.std(v, ddof=1) if len(v) > 1 else 0.0}
                         for b, v in ((b, group[column].to_numpy(float)) for b, group in runs.groupby("batch_size"))])


def _repeated_study(root, arms=("linear", "none"), batch_sizes=(32, 256), seeds=(0, 1, 2), accuracy=None):
    """A study folder of arms × batch sizes × seeds, accuracy 0.9 - arm index / 10 + seed / 100 unless
    ``accuracy(arm, batch_size, seed)`` says otherwise."""
    from kerasbatch.store import Store

    store = Store(root, "arms")
    store.claim_study("study", {"arms": [{"name": arm} for arm in arms]})
    for offset, arm in enumerate(arms):
        for batch_size in batch_sizes:
            for seed in seeds:
                run_id = f"{arm}-bs{batch_size}-s{seed}"
                store.begin_run(run_id, {"batch_size": batch_size}, {"run": run_id})
                store.finish_run(run_id, {"run_id": run_id, "status": "ok", "arm": arm, "seed": seed,
                                          "batch_size": batch_size, "best_val_accuracy":
                                              accuracy(arm, batch_size, seed) if accuracy else
                                              0.9 - offset / 10 + seed / 100,
                                          "steps_to_target": None if seed == 2 else 100 * (seed + 1)})
    return store.study_dir
