"""The ``kerasbatch`` command: parse flags (or a YAML file), build a config, call the API, print.

Every setting's flag comes from its field in :mod:`kerasbatch.config.run` (:mod:`kerasbatch.cli.options`);
``--config FILE`` fills click's ``default_map``, so a flag given wins over the file, which wins over the
field's default. Nothing here imports TensorFlow at import time, so ``kerasbatch --help`` is instant;
the commands that train import it when they run. Every user mistake ends as one ``error: …`` line and
exit status 2; ``--debug`` (or ``KERASBATCH_DEBUG=1``) shows the traceback behind it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from kerasbatch.cli import options as opts
from kerasbatch.config import commands as cmd_cfg
from kerasbatch.config import run as cfg
from kerasbatch.cli.options import FromText
from kerasbatch.cli.output import display, output_mode, print_table, study_store
from kerasbatch.errors import KerasbatchError
from kerasbatch.learner.profile import ProfileConfig
from kerasbatch.cli.quiet_import import import_tensorflow_quietly
from kerasbatch.learner.suggest import SuggestConfig

STORE_OPTIONS = [
    opts.CONFIG_OPTION,
    *opts.fields_options(cmd_cfg.StoreConfig, ["out"]),
    click.option("--study", default=None, show_default="DATASET-MODEL", help="Study name (a folder under --out)."),
    click.option("--quiet", is_flag=True, help="Print only the table, no progress."),
    click.option("--verbose", is_flag=True,
                 help="Keras's own line per epoch, with every metric, instead of the progress display."),
]
FORMATS = ("markdown", "csv", "html", "json", "latex")
TUNE_FIELDS = ("tuner", "max_trials", "batch_sizes", "lr_range", "objective", "lr_scaling", "overwrite",
               "from_suggestion")
PROFILE_FIELDS = ("batch_sizes", "find_max", "warmup_steps", "timed_steps", "budget_seconds")
SUGGEST_FIELDS = ("budget_seconds", "max_relative_error", "baseline_batch", "candidates", "run_suggestion")

# What the group's options set for the command that runs; read again by ``run`` once click has returned.
_session = {"debug": False}


def run_config(params: dict[str, Any]) -> cfg.RunConfig:
    return cfg.RunConfig.from_flat({k: v for k, v in params.items() if k in cfg.FLAT_FIELDS})


def _pick(params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: params[name] for name in names}


# Each command's config from its parsed parameters: what the command runs, and what tests build.
CONFIGS = {
    "train": run_config,
    "sweep": lambda p: cmd_cfg.SweepConfig(run=run_config(p), batch_sizes=p["batch_sizes"]),
    "tune": lambda p: cmd_cfg.TuneConfig(run=run_config(p), **_pick(p, TUNE_FIELDS)),
    "profile": lambda p: ProfileConfig(run=run_config(p), **_pick(p, PROFILE_FIELDS)),
    "suggest": lambda p: SuggestConfig(run=run_config(p), **_pick(p, SUGGEST_FIELDS)),
}




def build_config(command: str, args: list[str]) -> Any:
    """The config ``kerasbatch COMMAND ARGS…`` would run with, built without running anything."""
    with cli.commands[command].make_context(command, list(args)) as ctx:
        return CONFIGS[command](ctx.params)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="kerasbatch")
@click.option("--debug", is_flag=True, envvar="KERASBATCH_DEBUG",
              help="Print the traceback behind an error (also KERASBATCH_DEBUG=1).")
def cli(debug: bool) -> None:
    """Measure what batch size does to Keras training, then choose it.

    Train the same model at many batch sizes, compare accuracy, speed, gradient noise and the path
    through weight space, and keep every run in a crash-safe store (runs/STUDY/RUN/).
    """
    _session["debug"] = debug


@cli.command()
@opts.apply(opts.run_options())
@click.option("--run-id", default=None, show_default="bs<BATCH>", help="Run folder name.")
@opts.apply(STORE_OPTIONS)
def train(**params: Any) -> int:
    """Train one run and store it."""
    output_mode(params)
    run = CONFIGS["train"](params)
    store = study_store(params, run)
    progress = display(params, runs=1)
    from kerasbatch.studies.sweep import tracked_run

    with progress or contextlib.nullcontext():
        result = tracked_run(run, store, progress, run_id=params["run_id"], verbose=2 if params["verbose"] else 0)
    print_table(store.study_dir, run_ids=[result.run_id])
    return 0 if result.ok else 1


@cli.command()
@opts.apply(opts.run_options(exclude=["batch_size"]))
@opts.apply(opts.fields_options(cmd_cfg.SweepConfig, ["batch_sizes"]))
@opts.apply(STORE_OPTIONS)
def sweep(**params: Any) -> int:
    """Train one run per batch size, all else equal, and print the comparison table."""
    output_mode(params)
    config = CONFIGS["sweep"](params)
    store = study_store(params, config.run)
    progress = display(params, runs=len(config.batch_sizes))
    from kerasbatch.studies.sweep import sweep as sweep_api

    with progress or contextlib.nullcontext():
        results = sweep_api(config, store, progress=progress, verbose=2 if params["verbose"] else 0)
    print_table(store.study_dir, run_ids=[r.run_id for r in results])
    return 0 if all(r.ok for r in results) else 1


@cli.command()
@opts.apply(opts.run_options(exclude=["batch_size", "lr_scaling"]))
@opts.apply(opts.fields_options(cmd_cfg.TuneConfig, TUNE_FIELDS))
@opts.apply(STORE_OPTIONS)
def tune(**params: Any) -> int:
    """KerasTuner search over batch size and learning rate.

    The learning rate searched is the rate applied at each trial's batch size (--lr-scaling none).
    Running the same command again continues the search. For a distributed search, start one chief
    and any number of workers with KerasTuner's variables KERASTUNER_TUNER_ID (chief, tuner0, tuner1,
    ...), KERASTUNER_ORACLE_IP (the chief binds 127.0.0.1 unless told otherwise) and
    KERASTUNER_ORACLE_PORT.
    """
    output_mode(params)
    config = CONFIGS["tune"](params)
    store = study_store(params, config.run, suffix="-tune")
    progress = display(params, runs=config.max_trials)
    from kerasbatch.tuning.tune import tune as tune_api

    with progress or contextlib.nullcontext():
        results = tune_api(config, store, progress=progress, verbose=2 if params["verbose"] else 0)
    if results:
        print_table(store.study_dir, run_ids=[r.run_id for r in results])
    return 0 if all(r.ok for r in results) else 1


@cli.command()
@opts.apply(opts.run_options(exclude=["batch_size"]))
@opts.apply(opts.fields_options(ProfileConfig, PROFILE_FIELDS))
@opts.apply(STORE_OPTIONS)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="Table format.")
def profile(**params: Any) -> int:
    """Measure samples/s, step time and peak memory per batch size on this machine."""
    from kerasbatch.reports import tables
    from kerasbatch.learner.profile import profile as profile_api

    quiet, _ = output_mode(params)
    config = CONFIGS["profile"](params)
    store = study_store(params, config.run, suffix="-profile")
    import_tensorflow_quietly()
    result = profile_api(config, store, progress=None if quiet else (lambda line: click.echo(line, err=True)))
    import pandas as pd

    frame = pd.DataFrame(result.rows).drop(columns=["precision"], errors="ignore").dropna(axis="columns", how="all")
    click.echo(tables.render(frame, params["fmt"]))
    if result.max_batch_size is not None:
        click.echo(f"largest batch that fits: {result.max_batch_size} ({result.max_reason})", err=True)
    return 0


@cli.command(context_settings={"default_map": {"target": 0.95}})  # the learner needs a target to aim at
@opts.apply(opts.run_options(exclude=["batch_size"]))
@opts.apply(opts.fields_options(SuggestConfig, SUGGEST_FIELDS))
@opts.apply(STORE_OPTIONS)
@click.option("--json", "as_json", is_flag=True, help="Print the suggestion as one JSON object.")
def suggest(**params: Any) -> int:
    """Suggest the batch size and learning rate that reach --target soonest on this machine."""
    from kerasbatch.learner.suggest import suggest as suggest_api

    quiet, verbose = output_mode(params)
    config = CONFIGS["suggest"](params)
    store = study_store(params, config.run, suffix="-suggest")
    import_tensorflow_quietly()
    lines = None if quiet or params["as_json"] else (lambda line: click.echo(line, err=True))
    result = suggest_api(config, store, progress=lines, verbose=2 if verbose else 0)
    if params["as_json"]:
        from kerasbatch.store import to_json

        click.echo(json.dumps(to_json(result.to_dict())))
        return 0
    from kerasbatch.reports import tables

    click.echo(tables.render(result.table, "markdown"))
    low, high = result.batch_size_interval
    click.echo(f"suggested batch size {result.batch_size} (range {low}–{high}), learning rate "
               f"{result.learning_rate:.4g}; noise scale {result.noise_scale:.4g} "
               f"({result.noise_scale_interval[0]:.4g}–{result.noise_scale_interval[1]:.4g}); predicted "
               f"{result.predicted_speedup:.2f}× faster than batch {result.baseline_batch}")
    return 0


@cli.command()
@click.argument("study_file", type=click.Path())
@click.option("--quick", is_flag=True, help="The CPU-sized version: the file's quick: block, 2 repeats, its own "
                                            "folder (STUDY-quick).")
@click.option("--repeats", type=FromText(click.INT), default=None, show_default="the file's, else 3 (2 with --quick)",
              help="Seeds per arm and batch size (seed, seed+1, ...).")
@opts.apply(opts.fields_options(cmd_cfg.StoreConfig, ["out"]))
@opts.apply(STORE_OPTIONS[-2:])
def study(study_file: str, quick: bool, repeats: int | None, **params: Any) -> int:
    """Run a study file: every arm × batch size × seed, then its table (mean ± std), figures and report.

    Running it again skips the finished runs; a larger --repeats adds seeds to them.
    """
    from kerasbatch.config.study import load_study

    quiet, verbose = output_mode(params)
    config = load_study(study_file, quick=quick, repeats=repeats)
    progress = display(params, runs=len(config.arms) * len(config.batch_sizes) * config.repeats)
    from kerasbatch.studies.study import run_study

    with progress or contextlib.nullcontext():
        result = run_study(config, params["out"], progress=progress, verbose=2 if verbose else 0)
    click.echo(result.text)
    if not quiet:
        for path in (result.report, *result.figures):
            if path is not None and path.suffix != ".svg":
                click.echo(f"wrote {path}", err=True)
    return 0 if result.ok else 1


@cli.command()
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
    from kerasbatch.reports import tables

    run_dir = tables.best_run(path, metric) if best else Path(path)
    target = export_api.export_run(run_dir, to, dtype=dtype, force=force)
    click.echo(f"exported {run_dir} to {target}")
    return 0


@cli.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, show_default="STUDY_DIR/plots",
              help="Folder for the figures.")
def plot(study_dir: str, output: str | None) -> int:
    """Draw the study's figures as PNG and SVG."""
    from kerasbatch.reports.plots.figures import plot_study

    for path in plot_study(study_dir, output):
        click.echo(str(path))
    return 0


@cli.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, show_default="STUDY_DIR/report.html", help="HTML file.")
def report(study_dir: str, output: str | None) -> int:
    """Write one self-contained HTML report: the finding, the table, the figures, the settings."""
    from kerasbatch.reports.html import write_report

    click.echo(str(write_report(study_dir, output)))
    return 0


@cli.command()
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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # Through sys.stderr itself (click.echo would reach under it), so that a live progress line can
    # print the warning above itself instead of being written over.
    print(f"warning: {message}", file=sys.stderr, flush=True)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status (0 ok, 1 a run failed, 2 a usage error)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides our output
    _session["debug"] = False
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        result = cli.main(args=argv, prog_name="kerasbatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except KerasbatchError as exc:
        if _session["debug"]:
            traceback.print_exception(exc)
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("error: interrupted; run the same command again to resume", err=True)
        return 130
    finally:
        warnings.showwarning = previous
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
