"""Tables as text: markdown, CSV, HTML, JSON or LaTeX, numbers written the same way in each, a missing
value as an empty cell; and the ``0.953 ± 0.004`` cells of a study's mean ± std table.

TensorFlow-free; :mod:`kerasbatch.reports.tables` builds the frames, this module writes them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import pandas as pd

from kerasbatch.errors import KerasbatchError

FORMATS = ("markdown", "csv", "html", "json", "latex")


def render(frame: pd.DataFrame, fmt: str = "markdown") -> str:
    """The table as text in one of ``FORMATS``; a missing value is an empty cell (``--`` in LaTeX)."""
    if fmt == "markdown":
        return _cells(frame, None).to_markdown(index=False, floatfmt=_float_formats(frame), missingval="")
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "html":
        return _text_cells(frame, "").to_html(index=False, border=0)
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if fmt == "latex":
        return _text_cells(frame, "--").to_latex(index=False)
    raise KerasbatchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _cells(frame: pd.DataFrame, missing: str | None) -> pd.DataFrame:
    """Missing values as ``missing``: left alone, pandas and tabulate print ``None``, ``nan`` or ``<NA>``
    depending on the column's type (tabulate leaves ``None`` cells empty)."""
    return frame.astype(object).where(frame.notna(), missing)


def _text_cells(frame: pd.DataFrame, missing: str) -> pd.DataFrame:
    """Every cell as text, numbers as the markdown table writes them, a missing value as ``missing``."""
    cells = frame.astype(object)
    for column, spec in zip(frame.columns, _float_formats(frame)):
        cells[column] = [missing if pd.isna(v) else format(v, spec) if isinstance(v, float) else str(v)
                         for v in frame[column]]
    return cells


def _float_formats(frame: pd.DataFrame) -> list[str]:
    """Four significant digits, but whole numbers for large values (14060 samples/s, not 1.406e+04)."""
    formats = []
    for column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce").abs()
        formats.append(".0f" if values.max() >= 1000 else ".4g")
    return formats


@contextmanager
def headers_unpadded() -> Iterator[None]:
    """tabulate widens every column to its header plus two spaces, a module setting with no argument;
    borrowed (and given back) to win 20 characters for the compact view."""
    import tabulate

    padding, tabulate.MIN_PADDING = tabulate.MIN_PADDING, 0
    try:
        yield
    finally:
        tabulate.MIN_PADDING = padding


def align(column: str) -> str:
    """Text (an arm's name) to the left, numbers and ``mean ± std`` cells to the right."""
    return "left" if column == "arm" else "right"


def mean_std_cells(means: pd.Series, stds: pd.Series, reached, n: pd.Series, count_like: bool) -> list[str]:
    """One column's ``mean ± std`` cells, one number format for the column (whole numbers for counts);
    ``(k/n)`` when only ``k`` of a setting's ``n`` runs had a value."""
    varies = bool((stds > 0).any())  # else a setting, like the learning rate: its bare value
    scale = means.abs().max()
    spec = ".0f" if scale >= 1000 or count_like else ".1f" if scale >= 10 else ".3f" if scale >= 0.01 else ".2g"
    out = []
    for mean, std, k, total in zip(means, stds, reached, n):
        cell = "" if pd.isna(mean) else f"{mean:{spec}} ± {std:{spec}}" if varies and pd.notna(std) else (
            f"{mean:{spec}}")
        if k < total:  # a run without a value: it never reached the target, or it failed
            cell = f"{cell} ({k}/{total})".strip()
        out.append(cell)
    return out
