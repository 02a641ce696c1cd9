"""One self-contained HTML report of a study, opening with what it found.

The page reads top-down as the answer first: the best batch size by the study's metric, the suggestion
(when ``suggestion.json`` exists), the key figure and the compact table; then the settings that differ
between runs and the other figures; everything else (all columns, all settings) folded at the end.

The file references nothing outside itself (figures are embedded as base64 PNG, the stylesheet is
inline), so it can be mailed, archived or opened offline. Every piece of text that comes from the
study folder is HTML-escaped. Like the table and the plots, it reads files only: no TensorFlow.
"""

from __future__ import annotations

import base64
import html
import json
import math
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from kerasbatch.reports.plots import figures as plots
from kerasbatch.reports import tables
from kerasbatch.reports import best as ranking
from kerasbatch.config.commands import OBJECTIVES
from kerasbatch.errors import KerasbatchError
from kerasbatch.reports.repeats import best_by_mean, mean_std_view
from kerasbatch.store import CONFIG, STUDY, SUGGESTION, Store, make_dir, read_json, write_text

REPORT = "report.html"

# How the finding names each metric, and the figure that shows it best.
_METRIC_WORDS = {"val_accuracy": "validation accuracy", "seconds_to_target": "seconds to the target"}
_KEY_FIGURE = {"val_accuracy": "val_accuracy_vs_batch", "seconds_to_target": "learning_curves"}

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; max-width: 1200px;
       margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } tbody tr:nth-child(even) { background: #fafafa; }
td { font-variant-numeric: tabular-nums; } .scroll th, .scroll td { white-space: nowrap; }
.scroll { overflow-x: auto; } .muted { color: #666; } .bad { color: #b00020; }
.finding { font-size: 1.25em; margin: 0.8em 0 0.3em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.suggestion { background: #eef6ee; border-left: 4px solid #2e7d32; padding: 0.6em 1em; }
details { margin: 1em 0; } summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 3em; color: #888; font-size: 0.8em; }
"""


def write_report(study_dir: str | Path, output: str | Path | None = None, *,
                 figures: dict[str, bytes] | None = None) -> Path:
    """Write the study's HTML report to ``output`` (default ``<study_dir>/report.html``) and return it.

    The page holds, in this order: the finding (best batch size by the study's metric, run counts,
    failures), the suggestion when ``suggestion.json`` exists, the key figure, the compact table, the
    settings that differ between runs, the other figures of :func:`kerasbatch.reports.plots.figures.plot_study`, and
    folded, every column and every setting. Written atomically. ``figures`` (PNG bytes by figure name)
    are the study's figures when the caller has just drawn them; by default they are drawn here.
    Raises :class:`KerasbatchError` when the folder holds no finished run.
    """
    study_dir = Path(study_dir)
    frame = tables.study_table(study_dir)
    output = Path(output) if output is not None else study_dir / REPORT
    # Figures go to a scratch folder: the report must not leave files in the study as a side effect.
    if figures is None:
        with tempfile.TemporaryDirectory(prefix="kerasbatch-report-") as scratch:
            figures = {path.stem: path.read_bytes() for path in plots.plot_study(study_dir, scratch, ("png",))}
    metric = ranking.default_metric(study_dir)
    key = _KEY_FIGURE.get(metric) if _KEY_FIGURE.get(metric) in figures else next(iter(figures), None)
    study = _read(study_dir / STUDY) if (study_dir / STUDY).is_file() else {}
    repeated = tables.has_repeats(frame)
    sections = [
        _finding(study_dir, frame, study, metric, repeated),
        _suggestion(study_dir),
        _figures("key-figure", None, {key: figures[key]} if key else {}, repeated),
        _comparison(frame, repeated),
        _differences(study_dir, frame),
        _figures("figures", "More figures", {n: png for n, png in figures.items() if n != key}, repeated),
        _folded("all-columns", "Every column", _table(frame)),
        _folded("all-settings", "Every setting the runs share", _key_values(_flatten(study.get("settings") or {}))),
    ]
    page = _page(study_dir.resolve().name, "".join(s for s in sections if s))
    make_dir(output.parent)
    write_text(output, page)
    return output


def _page(name: str, body: str) -> str:
    title = html.escape(f"kerasbatch report: {name}")
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n{body}"
        f"<footer>Generated by kerasbatch on {html.escape(generated)}.</footer>\n</body>\n</html>\n"
    )


def _section(anchor: str, heading: str | None, content: str) -> str:
    title = f"<h2>{html.escape(heading)}</h2>\n" if heading else ""
    return f'<section id="{anchor}">\n{title}{content}\n</section>\n'


def _folded(anchor: str, heading: str, content: str) -> str:
    if not content:
        return ""
    return f'<details id="{anchor}">\n<summary>{html.escape(heading)}</summary>\n{content}\n</details>\n'


def _table(frame: pd.DataFrame) -> str:
    return f'<div class="scroll">{tables.render(frame, "html")}</div>'


def _comparison(frame: pd.DataFrame, repeated: bool) -> str:
    """The compact table: one row per run, or with arms or repeats one per (arm, batch size)."""
    if repeated:
        return _section("comparison", "Comparison: mean ± std over seeds", _table(mean_std_view(frame)))
    return _section("comparison", "Comparison", _table(tables.key_view(frame).rename(columns=tables.KEY_VIEW)))


def _finding(study_dir: Path, frame: pd.DataFrame, study: dict[str, Any], metric: str, repeated: bool) -> str:
    """The answer first: the best batch size (and arm) by the study's metric, then what the study was."""
    words = _METRIC_WORDS.get(metric, metric)
    best = best_by_mean(study_dir, frame, metric, words) if repeated else _best(study_dir, frame, metric)
    parts = [f'<p class="finding">{best}</p>']
    kind = html.escape(str(study.get("kind", "unknown")))
    statuses = Counter(frame["status"].fillna("unknown")) if "status" in frame.columns else Counter()
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    plural = "" if len(frame) == 1 else "s"
    parts.append(f"<p>A <strong>{kind}</strong> study with {len(frame)} finished run{plural}"
                 + (f" ({html.escape(counts)})" if counts else "") + ".</p>")
    incomplete = _incomplete_runs(study_dir)
    if incomplete:
        parts.append(f'<p class="muted">Unfinished, so left out: {html.escape(", ".join(incomplete))}.</p>')
    parts.append(_failures(frame))
    return _section("finding", None, "\n".join(p for p in parts if p))


def _best(study_dir: Path, frame: pd.DataFrame, metric: str) -> str:
    words = _METRIC_WORDS.get(metric, metric)
    try:
        run_id = ranking.best_run_id(frame, metric, study_dir)
    except KerasbatchError as exc:
        return f"No best batch size by {html.escape(words)}: {html.escape(str(exc))}."
    row = frame.set_index("run_id").loc[run_id]
    field = OBJECTIVES[metric].field
    value = f"{row[field]:.4g}" + (" s" if metric == "seconds_to_target" else "")
    rate = f" at learning rate {_text(row['learning_rate'])}" if "learning_rate" in row else ""
    return (f"Best batch size by {html.escape(words)}: <strong>{_text(row['batch_size'])}</strong>{rate} "
            f"({html.escape(field)} {html.escape(value)}, run {html.escape(run_id)}).")


def _incomplete_runs(study_dir: Path) -> list[str]:
    """Run folders that were started (they hold a config) but never wrote their summary."""
    store = Store.from_dir(study_dir)
    return [run_id for run_id in store.run_ids(complete_only=False)
            if (store.run_dir(run_id) / CONFIG).is_file() and not store.is_complete(run_id)]


def _failures(frame: pd.DataFrame) -> str:
    """The runs that did not finish well, with their error, so that a gap in a figure is explained."""
    if "status" not in frame.columns:
        return ""
    items = []
    for _, row in frame[frame["status"] != "ok"].iterrows():
        error = row.get("error")
        detail = f" ({error})" if isinstance(error, str) and error else ""
        text = f"{row['run_id']}: {row['status']}{detail}"
        items.append(f"<li>{html.escape(text)}</li>")
    if not items:
        return ""
    return '<p>Left out of the figures:</p>\n<ul class="bad">\n' + "\n".join(items) + "\n</ul>"


def _differences(study_dir: Path, frame: pd.DataFrame) -> str:
    """One row per run, one column per setting whose value is not the same in every run."""
    store = Store.from_dir(study_dir)
    configs = {run_id: _flatten(store.read_config(run_id)) for run_id in frame["run_id"]}
    keys = list(dict.fromkeys(k for config in configs.values() for k in config))
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs.values()}) > 1]
    if not differing:
        return _section("differences", "Settings that differ", "<p>Every run has the same settings.</p>")
    rows = pd.DataFrame([{"run_id": html.escape(run_id), **{k: _text(c.get(k)) for k in differing}}
                         for run_id, c in configs.items()])
    table = rows.rename(columns=html.escape).to_html(index=False, border=0, escape=False)  # cells escaped
    return _section("differences", "Settings that differ", f'<div class="scroll">{table}</div>')


def _suggestion(study_dir: Path) -> str:
    path = study_dir / SUGGESTION
    if not path.is_file():
        return ""
    suggestion = _read(path)
    lead = []
    if "batch_size" in suggestion:
        lead.append(f"batch size <strong>{_text(suggestion['batch_size'])}</strong>")
    if "learning_rate" in suggestion:
        lead.append(f"learning rate <strong>{_text(suggestion['learning_rate'])}</strong>")
    if "predicted_speedup" in suggestion:
        lead.append(f"predicted speed-up <strong>×{_text(suggestion['predicted_speedup'])}</strong>")
    parts = [f'<div class="suggestion"><p>Suggested: {", ".join(lead) or "see below"}.</p>']
    if suggestion.get("reason"):
        parts.append(f"<p>{_text(suggestion['reason'])}</p>")
    parts.append("</div>")
    shown = {"batch_size", "learning_rate", "predicted_speedup", "reason"}
    rest = _flatten({k: v for k, v in suggestion.items() if k not in shown})
    if rest:
        parts.append(_key_values(rest))
    return _section("suggestion", "Suggestion", "\n".join(parts))


def _figures(anchor: str, heading: str | None, figures: dict[str, bytes], repeated: bool = False) -> str:
    if not figures:
        empty = '<p class="muted">No figure had data to draw.</p>'
        return _section(anchor, heading, empty) if anchor == "key-figure" else ""
    items = []
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        items.append(f'<figure id="fig-{name}">\n<img src="data:image/png;base64,{data}" '
                     f'alt="{html.escape(name.replace("_", " "))}">\n'
                     f"<figcaption>{html.escape(plots.describe(name, repeated))}</figcaption>\n</figure>")
    return _section(anchor, heading, "\n".join(items))


def _key_values(values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_text(v)}</td></tr>\n" for k, v in values.items())
    return f'<div class="scroll"><table>\n{rows}</table></div>'


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``optim.learning_rate: 0.1`` rows, which read better than a JSON blob."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _text(value: Any) -> str:
    """A value as escaped HTML text: lists joined by commas, a missing value as a dash, floats to 6 digits."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return html.escape(json.dumps(value))
    return html.escape(str(value))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise KerasbatchError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(data, dict):
        raise KerasbatchError(f"{str(path)!r} does not hold a JSON object")
    return data
