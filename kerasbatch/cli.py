"""The ``kerasbatch`` command: parse flags (or a YAML file), build a config, call the API, print.

Nothing here imports TensorFlow at import time, so ``kerasbatch --help`` is instant; the commands that
train import it when they run. Every user mistake ends as one ``error: …`` line and exit status 2.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import click

from kerasbatch import checks
from kerasbatch import config as cfg
from kerasbatch.data import DATASET_NAMES
from kerasbatch.errors import ConfigError, KerasbatchError
from kerasbatch.models import MODEL_NAMES

_DEFAULTS = cfg.flat_defaults()


def _default(name: str) -> str:
    value = _DEFAULTS[name]
    if isinstance(value, tuple):
        value = ",".join(map(str, value)) if value else "none"
    return f" [default: {value}]"


def _opt(flag: str, help: str, type: Any = None, name: str | None = None, **kw) -> Callable:
    """An option whose value is None unless given, so that YAML values are not overridden by defaults."""
    key = name or flag.split("/")[0].lstrip("-").replace("-", "_")
    shown = _default(key) if key in _DEFAULTS else ""
    return click.option(flag, key, type=type, default=None, help=help + shown, **kw)


# The flags every training command shares; each maps onto a field of RunConfig (see config.FLAT_FIELDS).
RUN_OPTIONS = [
    _opt("--dataset", f"Dataset: {', '.join(DATASET_NAMES)}."),
    _opt("--data-dir", "TensorFlow Datasets data directory."),
    _opt("--download/--no-download", "Let TensorFlow Datasets download a missing set (needs network)."),
    _opt("--val-fraction", "Share of training data held out for validation when the set has none.", float),
    _opt("--augment/--no-augment", "Pad-4 random crop and horizontal flip on training images."),
    _opt("--dots-samples", "Points in the generated dots set.", int),
    _opt("--dots-noise", "Noise of the generated dots set.", float),
    _opt("--data-seed", "Seed of generated data and held-out splits.", int),
    _opt("--model", f"Model: {', '.join(MODEL_NAMES)}, or package.module:function."),
    _opt("--widths", "Hidden widths of mlp, e.g. 256,128."),
    _opt("--dropout", "Dropout rate.", float),
    _opt("--optimizer", "Optimizer.", click.Choice(cfg.OPTIMIZERS)),
    _opt("--learning-rate", "Base learning rate, meant for --base-batch.", float),
    _opt("--momentum", "SGD momentum.", float),
    _opt("--nesterov/--no-nesterov", "Nesterov momentum for SGD."),
    _opt("--weight-decay", "Weight decay.", float),
    _opt("--lr-scaling", "How the rate follows the batch: none, linear (Goyal et al.) or sqrt.",
         click.Choice(cfg.LR_SCALINGS)),
    _opt("--base-batch", "Batch size the base learning rate is meant for.", int),
    _opt("--warmup-epochs", "Epochs of gradual linear warm-up to the scaled rate.", float),
    _opt("--schedule", "Decay after warm-up.", click.Choice(cfg.SCHEDULES)),
    _opt("--epochs", "Training epochs.", int),
    _opt("--precision", "Precision policy; auto picks the fast one for this hardware.", click.Choice(cfg.PRECISIONS)),
    _opt("--seed", "Seed of weights, shuffling and augmentation.", int),
    _opt("--target", "Validation accuracy whose first arrival is recorded (e.g. 0.95).", float),
    _opt("--stop-at-target/--no-stop-at-target", "End each run when --target is reached."),
    _opt("--diagnostics", f"all, none, or a list of: {', '.join(cfg.DIAGNOSTICS)}."),
    _opt("--diagnostics-every", "Take the costly diagnostics every N steps.", int),
    _opt("--micro-batches", "Micro-batches per measured batch for the gradient noise scale.", int),
    _opt("--strategy", "tf.distribute strategy; the batch size is the global batch across its replicas.",
         click.Choice(cfg.STRATEGIES)),
]

STORE_OPTIONS = [
    click.option("--config", "config_file", type=click.Path(), default=None,
                 help="YAML file of settings (keys are these option names); flags win over it."),
    _opt("--out", "Folder of studies. [default: runs]"),
    _opt("--study", "Study name (a folder under --out). [default: DATASET-MODEL]"),
    click.option("--quiet", is_flag=True, default=None, help="Print only the table, no progress."),
    click.option("--verbose", is_flag=True, default=None,
                 help="Keras's own line per epoch, with every metric, instead of the progress display."),
]


def _apply(options: list[Callable]) -> Callable:
    def decorate(fn: Callable) -> Callable:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def _settings(params: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """Merge ``--config`` YAML under the flags that were given: flags win, unknown YAML keys fail."""
    path = params.pop("config_file", None)
    merged = {k: v for k, v in params.items() if v is not None}
    if path is not None:
        from_file = checks.load_yaml(path)
        unknown = sorted(set(from_file) - allowed)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r} in {path}")
        merged = {**from_file, **merged}
    return merged


def _run_config(settings: dict[str, Any]) -> cfg.RunConfig:
    return cfg.RunConfig.from_flat({k: v for k, v in settings.items() if k in cfg.FLAT_FIELDS})


def _store(settings: dict[str, Any], run: cfg.RunConfig, suffix: str = ""):
    from kerasbatch.store import Store, check_writable

    study = settings.get("study") or default_study(run) + suffix
    store_config = cfg.StoreConfig(out=settings.get("out", "runs"), study=study)
    check_writable(store_config.study_dir)
    return Store(store_config.out, store_config.study)


def default_study(run: cfg.RunConfig) -> str:
    """``digits-mlp``, ``tfds-mnist-cnn``: a readable study name from the dataset and model."""
    dataset = Path(run.data.dataset.split(":", 1)[-1]).stem if run.data.dataset.startswith("npz:") else run.data.dataset
    model = run.model.name.split(":")[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{dataset}-{model}").strip("-")


def _progress(quiet: bool) -> Callable[[str], None] | None:
    return None if quiet else (lambda line: click.echo(line, err=True))


def _output(settings: dict[str, Any]) -> tuple[bool, bool]:
    """``(quiet, verbose)``, which exclude each other."""
    quiet, verbose = bool(settings.get("quiet")), bool(settings.get("verbose"))
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    return quiet, verbose


def _display(settings: dict[str, Any], runs: int):
    """The progress display of a command that trains ``runs`` runs, or ``None`` with ``--quiet``.

    Live on a terminal, plain lines elsewhere; beside Keras's own epoch lines with ``--verbose``.
    TensorFlow is imported here, with its load-time chatter kept off the console.
    """
    from kerasbatch.progress import StudyProgress
    from kerasbatch.quiet_import import import_tensorflow_quietly

    quiet, verbose = _output(settings)
    import_tensorflow_quietly()
    return None if quiet else StudyProgress(runs, live=False if verbose else None, epoch_lines=not verbose)


# What the group's options set for the command that runs; read again by ``run`` once click has returned.
_session = {"debug": False}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@_apply(RUN_OPTIONS)
@click.option("--batch-size", "batch_size", type=int, default=None, help="Batch size." + _default("batch_size"))
@click.option("--run-id", default=None, help="Run folder name. [default: bs<BATCH>]")
@_apply(STORE_OPTIONS)
def train(**params: Any) -> int:
    """Train one run and store it."""
    settings = _settings(params, set(params) - {"config_file"})
    _output(settings)
    run = _run_config({k: v for k, v in settings.items() if k != "run_id"})
    store = _store(settings, run)
    progress = _display(settings, runs=1)
    from kerasbatch.sweep import tracked_run

    with progress or contextlib.nullcontext():
        result = tracked_run(run, store, progress, run_id=settings.get("run_id"),
                             verbose=2 if settings.get("verbose") else 0)
    _print_table(store.study_dir, run_ids=[result.run_id])
    return 0 if result.ok else 1


@cli.command()
@_apply(RUN_OPTIONS)
@click.option("--batch-sizes", default=None,
              help="Comma-separated batch sizes." + f" [default: {','.join(map(str, cfg.DEFAULT_BATCH_SIZES))}]")
@_apply(STORE_OPTIONS)
def sweep(**params: Any) -> int:
    """Train one run per batch size, all else equal, and print the comparison table."""
    settings = _settings(params, set(params) - {"config_file"})
    _output(settings)
    sizes = settings.pop("batch_sizes", None)
    sizes = checks.parse_int_list("batch_sizes", sizes) if isinstance(sizes, (str, int)) else sizes
    run = _run_config(settings)
    config = cfg.SweepConfig(run=run, batch_sizes=sizes or cfg.DEFAULT_BATCH_SIZES)
    store = _store(settings, run)
    progress = _display(settings, runs=len(config.batch_sizes))
    from kerasbatch.sweep import sweep as sweep_api

    with progress or contextlib.nullcontext():
        results = sweep_api(config, store, progress=progress, verbose=2 if settings.get("verbose") else 0)
    _print_table(store.study_dir, run_ids=[r.run_id for r in results])
    return 0 if all(r.ok for r in results) else 1


@cli.command()
@_apply(RUN_OPTIONS)
@click.option("--tuner", type=click.Choice(cfg.TUNERS), default=None, help="Search algorithm. [default: random]")
@click.option("--max-trials", type=int, default=None, help="Trials to run. [default: 10]")
@click.option("--batch-sizes", default=None,
              help="Batch-size choices." + f" [default: {','.join(map(str, cfg.DEFAULT_BATCH_SIZES))}]")
@click.option("--lr-range", default=None, help="Learning-rate range low,high, searched on a log scale. [default: 1e-3,1]")
@click.option("--objective", type=click.Choice(tuple(cfg.OBJECTIVES)), default=None,
              help="What the search optimises. [default: val_accuracy]")
@click.option("--overwrite", is_flag=True, default=None, help="Start the search over instead of continuing it.")
@_apply(STORE_OPTIONS)
def tune(**params: Any) -> int:
    """KerasTuner search over batch size and learning rate.

    The learning rate searched is the rate applied at each trial's batch size (--lr-scaling defaults
    to none here). Running the same command again continues the search. For a distributed search,
    start one chief and any number of workers with KerasTuner's variables KERASTUNER_TUNER_ID (chief,
    tuner0, tuner1, ...), KERASTUNER_ORACLE_IP (the chief binds 127.0.0.1 unless told otherwise) and
    KERASTUNER_ORACLE_PORT.
    """
    settings = _settings(params, set(params) - {"config_file"})
    search = {k: settings.pop(k) for k in ("tuner", "max_trials", "batch_sizes", "lr_range", "objective", "overwrite")
              if k in settings}
    settings.setdefault("lr_scaling", "none")
    if isinstance(search.get("batch_sizes"), (str, int)):
        search["batch_sizes"] = checks.parse_int_list("batch_sizes", search["batch_sizes"])
    if isinstance(search.get("lr_range"), str):
        search["lr_range"] = checks.parse_float_pair("lr_range", search["lr_range"])
    run = _run_config(settings)
    config = cfg.TuneConfig(run=run, **search)
    store = _store(settings, run, suffix="-tune")
    from kerasbatch.tune import tune as tune_api

    quiet, verbose = _output(settings)
    results = tune_api(config, store, progress=_progress(quiet), verbose=2 if verbose else 0)
    if results:
        _print_table(store.study_dir, run_ids=[r.run_id for r in results])
    return 0 if all(r.ok for r in results) else 1


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--best", is_flag=True, help="PATH is a study: export its best run.")
@click.option("--metric", type=click.Choice(tuple(cfg.OBJECTIVES)), default=None,
              help="What --best means. [default: the tune objective, else val_accuracy]")
@click.option("--to", type=click.Path(), default=None, help="Target folder. [default: saved_models/STUDY-RUN]")
@click.option("--dtype", type=click.Choice(["float32"]), default=None,
              help="Export a float32 serving copy of a mixed-precision model.")
@click.option("--force", is_flag=True, help="Replace an existing export.")
def export(path: str, best: bool, metric: str | None, to: str | None, dtype: str | None, force: bool) -> int:
    """Export a run (or a study's best run) as a SavedModel, a .keras file and a model card."""
    from kerasbatch import export as export_api

    run_dir = export_api.best_run(path, metric) if best else Path(path)
    target = export_api.export_run(run_dir, to, dtype=dtype, force=force)
    click.echo(f"exported {run_dir} to {target}")
    return 0


@cli.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, help="Folder for the figures. [default: STUDY_DIR/plots]")
def plot(study_dir: str, output: str | None) -> int:
    """Draw the study's figures as PNG and SVG."""
    from kerasbatch.plots import plot_study

    for path in plot_study(study_dir, output):
        click.echo(str(path))
    return 0


@cli.command()
@click.argument("study_dir", type=click.Path())
@click.option("--output", type=click.Path(), default=None, help="HTML file. [default: STUDY_DIR/report.html]")
def report(study_dir: str, output: str | None) -> int:
    """Write one self-contained HTML report: what was run, the table, the figures."""
    from kerasbatch.report import write_report

    click.echo(str(write_report(study_dir, output)))
    return 0


@cli.command()
@click.argument("study_dir", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "html", "json", "latex"]),
              default="markdown", show_default=True, help="Table format.")
@click.option("--output", type=click.Path(), default=None, help="Write to this file instead of stdout.")
@click.option("--sort", default=None, help="Column to sort by. [default: batch_size]")
@click.option("--columns", default=None,
              help="key (the compact view a sweep prints), all, or comma-separated column names in order. "
                   "[default: key for markdown, all for the other formats]")
def compare(study_dir: str, fmt: str, output: str | None, sort: str | None, columns: str | None) -> int:
    """Compare the finished runs of a study: one row per run."""
    from kerasbatch import tables
    from kerasbatch.store import write_text

    frame = tables.study_table(study_dir)
    if sort:
        tables.select_columns(frame, [sort])
        frame = frame.sort_values(sort, kind="stable")
    columns = columns or ("key" if fmt == "markdown" else "all")
    if columns == "key":
        text = tables.render_key(frame) if fmt == "markdown" else tables.render(tables.key_view(frame), fmt)
    else:
        if columns != "all":
            frame = tables.select_columns(frame, [c.strip() for c in columns.split(",") if c.strip()])
        text = tables.render(frame, fmt)
    if output:
        write_text(output, text if text.endswith("\n") else text + "\n")
    else:
        click.echo(text)
    return 0


def _print_table(study_dir: Path, run_ids: list[str]) -> None:
    from kerasbatch import tables

    frame = tables.study_table(study_dir)
    click.echo(tables.render_key(frame[frame["run_id"].isin(run_ids)]))


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
