"""The commands that train: ``train``, ``sweep``, ``tune``, ``profile``, ``suggest`` and ``study``.

Each builds its config from the parsed flags (:data:`CONFIGS`, which tests use too), calls one function
of the Python API and prints what it returned. TensorFlow is imported when a command runs, not before.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import click

from kerasbatch.cli import options as opts
from kerasbatch.cli.options import FORMATS, FromText
from kerasbatch.cli.output import display, output_mode, print_table, study_store
from kerasbatch.cli.quiet_import import import_tensorflow_quietly
from kerasbatch.config import commands as cmd_cfg
from kerasbatch.config import run as cfg
from kerasbatch.config.learner import ProfileConfig, SuggestConfig


STORE_OPTIONS = [
    opts.CONFIG_OPTION,
    *opts.fields_options(cmd_cfg.StoreConfig, ["out"]),
    click.option("--study", default=None, show_default="DATASET-MODEL", help="Study name (a folder under --out)."),
    click.option("--quiet", is_flag=True, help="Print only the table, no progress."),
    click.option("--verbose", is_flag=True,
                 help="Keras's own line per epoch, with every metric, instead of the progress display."),
]

TUNE_FIELDS = ("tuner", "max_trials", "batch_sizes", "lr_range", "objective", "lr_scaling", "overwrite",
               "from_suggestion")

PROFILE_FIELDS = ("batch_sizes", "find_max", "warmup_steps", "timed_steps", "budget_seconds")

SUGGEST_FIELDS = ("budget_seconds", "max_relative_error", "baseline_batch", "candidates", "tolerance", "prediction",
                  "run_suggestion")

def run_config(params: dict[str, Any]) -> cfg.RunConfig:
    return cfg.RunConfig.from_flat({k: v for k, v in params.items() if k in cfg.FLAT_FIELDS})

def _pick(params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: params[name] for name in names}

CONFIGS = {
    "train": run_config,
    "sweep": lambda p: cmd_cfg.SweepConfig(run=run_config(p), batch_sizes=p["batch_sizes"]),
    "tune": lambda p: cmd_cfg.TuneConfig(run=run_config(p), **_pick(p, TUNE_FIELDS)),
    "profile": lambda p: ProfileConfig(run=run_config(p), **_pick(p, PROFILE_FIELDS)),
    "suggest": lambda p: SuggestConfig(run=run_config(p), **_pick(p, SUGGEST_FIELDS)),
}

@click.command()
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

@click.command()
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

@click.command()
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

@click.command()
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

@click.command(context_settings={"default_map": {"target": 0.95}})  # the learner needs a target to aim at
@opts.apply(opts.run_options(exclude=["batch_size"]))
@opts.apply(opts.fields_options(SuggestConfig, SUGGEST_FIELDS))
@opts.apply(STORE_OPTIONS)
@click.option("--json", "as_json", is_flag=True, help="Print the suggestion as one JSON object.")
def suggest(**params: Any) -> int:
    """Suggest the batch size and learning rate that reach --target soonest on this machine."""
    from kerasbatch.learner.confidence import describe_confidence
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
    click.echo(describe_confidence(result))
    return 0

@click.command()
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
