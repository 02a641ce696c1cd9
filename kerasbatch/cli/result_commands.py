"""The commands that read a study: ``compare``, ``export``, ``plot`` and ``report``."""

from __future__ import annotations

from pathlib import Path

import click

from kerasbatch.cli.options import FORMATS
from kerasbatch.config import commands as cmd_cfg


@click.command()
@click.argument("path", type=click.Path())
@click.option("--best", is_flag=True, help="PATH is a study: export its best run. In a study with arms or "
                                           "repeats: the best seed of the (arm, batch size) with the best mean.")
@click.option("--metric", type=click.Choice(tuple(cmd_cfg.OBJECTIVES)), default=None,
              show_default="the tune objective, else val_accuracy", help="What --best means.")
@click.option("--to", type=click.Path(), default=None, show_default="saved_models/STUDY-RUN", help="Target folder.")
@click.option("--dtype", type=click.Choice(["float32"]), default=None,
              help="Export a float32 serving copy of a mixed-precision model.")
@click.option("--force", is_flag=True, help="Replace an existing export.")
def export(path: str, best: bool, metric: str | None, to: str | None, dtype: str | None, force: bool) -> int:
    """Export a run (or a study's best run) as a SavedModel, a .keras file and a model card."""
    from kerasbatch import export as export_api
    from kerasbatch.reports import best as ranking

    run_dir = ranking.best_run(path, metric) if best else Path(path)
    target = export_api.export_run(run_dir, to, dtype=dtype, force=force)
    click.echo(f"exported {run_dir} to {target}")
    return 0

@click.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, show_default="STUDY_DIR/plots",
              help="Folder for the figures.")
def plot(study_dir: str, output: str | None) -> int:
    """Draw the study's figures as PNG and SVG."""
    from kerasbatch.reports.plots.figures import plot_study

    for path in plot_study(study_dir, output):
        click.echo(str(path))
    return 0

@click.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, show_default="STUDY_DIR/report.html", help="HTML file.")
def report(study_dir: str, output: str | None) -> int:
    """Write one self-contained HTML report: the finding, the table, the figures, the settings."""
    from kerasbatch.reports.html import write_report

    click.echo(str(write_report(study_dir, output)))
    return 0

@click.command()
@click.argument("study_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="Table format.")
@click.option("--output", type=click.Path(), default=None, help="Write to this file instead of stdout.")
@click.option("--sort", default=None, show_default="batch_size", help="Column to sort by.")
@click.option("--columns", default=None, show_default="key for markdown, all for the other formats",
              help="key (the compact view a sweep prints), all, or comma-separated column names in order.")
@click.option("--by-run", is_flag=True, help="One row per run even in a study with arms or repeats (which by "
                                             "default shows one row per arm and batch size: mean ± std over seeds).")
def compare(study_dir: str, fmt: str, output: str | None, sort: str | None, columns: str | None,
            by_run: bool) -> int:
    """Compare the finished runs of a study: one row per run, or per arm and batch size (mean ± std)."""
    from kerasbatch.reports import tables
    from kerasbatch.store import write_text

    frame = tables.study_table(study_dir)
    if sort:
        tables.select_columns(frame, [sort])
    text = _compare_text(frame, fmt, columns or ("key" if fmt == "markdown" else "all"), by_run, sort)
    if output:
        write_text(output, text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text)
    return 0

def _compare_text(frame, fmt: str, columns: str, by_run: bool, sort: str | None = None) -> str:
    """The table ``compare`` prints: per run, or (arms or repeats) per arm and batch size; rows ordered
    by ``sort`` (per setting: by its mean)."""
    from kerasbatch.reports import tables

    if not by_run and tables.has_repeats(frame):
        if columns == "key" and fmt == "markdown":
            return tables.render_aggregate(frame, sort=sort)
        metrics = [c for c in tables.AGGREGATE_VIEW if c in frame.columns and c not in ("arm", "batch_size")]
        frame = tables.aggregate(frame, metrics if columns == "key" else None, sort)
    else:
        frame = frame.sort_values(sort, kind="stable") if sort else frame
        if columns == "key":
            return tables.render_key(frame) if fmt == "markdown" else tables.render(tables.key_view(frame), fmt)
    if columns not in ("all", "key"):
        frame = tables.select_columns(frame, [c.strip() for c in columns.split(",") if c.strip()])
    return tables.render(frame, fmt)
