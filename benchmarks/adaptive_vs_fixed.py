"""Adaptive and increasing batch sizes against fixed ones: time and steps to a target, final accuracy.

For each workload and seed, all with the same epoch budget, the same learning-rate rule and step-granular
evaluation (about eight evaluations per epoch's worth of examples at every batch size; a run whose batch
changes keeps the examples between evaluations), trained to the end of the budget, each in one ``fit``:

- ``adaptive``: ``--batch-schedule adaptive`` from batch 32 up to the largest candidate, with its defaults
  (re-evaluated four times an epoch at batch 32, the noise scale measured before each decision, step times
  timed on the fly: no profile);
- ``increase``: ``--batch-schedule increase --schedule step``: the batch x10 at 50% and 75% of the epochs
  (capped at the largest candidate, the rest of the factor taken by the rate), against ``fixed 32 + step``,
  the step decay it replaces;
- ``fixed B`` for every candidate: powers of two from 32 up to 1024 or the largest batch that leaves 8
  steps per epoch; "best fixed" is the one with the least seconds to the target, chosen in hindsight per
  seed (the sweep's oracle);
- the learning rate: base rate at batch 32, the noise-scale rule (McCandlish et al.) everywhere; the fixed
  sizes use the noise scale the seed-0 adaptive run measured (its mean over training), the adaptive run
  rescales with its running estimate at each switch.

One short untimed run per workload comes first (the process's first graphs cost more), and odd seeds run
the arms in reverse order, so that neither start-up nor a slow spell of a shared machine always lands on
the same arm. Printed: a table of mean ± std over the seeds per workload, the goals' ratios, and what a
switch and a noise estimate cost (median seconds, against the median training step at batch 32).

The default (digits, 2 seeds) takes about a minute; the full comparison:

    python benchmarks/adaptive_vs_fixed.py --datasets mnist1d,digits,tabular --seeds 3 [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from kerasbatch.training import train  # noqa: E402
from kerasbatch.training.schedules.plan import default_max_batch  # noqa: E402
from kerasbatch.config.run import RunConfig  # noqa: E402
from kerasbatch.store import Store  # noqa: E402
from workloads import evaluation_steps, workloads  # noqa: E402

# The workloads of benchmarks/suggest_vs_sweep.py, with an epoch budget each.
EPOCHS = {"digits": 20, "mnist1d": 10, "tabular": 6}
FIELDS = ("seconds_to_target", "steps_to_target", "examples_to_target", "final_val_accuracy", "train_seconds")


def candidates(n_train: int) -> list[int]:
    largest = default_max_batch(n_train)
    return [32 * 2**i for i in range(6) if 32 * 2**i <= largest]  # 32 … 1024


def configure(run: RunConfig, n_train: int, batch: int, **changes) -> RunConfig:
    every = evaluation_steps(n_train, batch)
    base = dict(batch_size=batch, eval_every_steps=every, diagnostics=())
    base.update(changes)
    return dataclasses.replace(run, **base)


def one_seed(name: str, run: RunConfig, seed: int, store: Store, noise_scale: float | None) -> dict[str, dict]:
    """Every arm of one seed; ``noise_scale`` is what the fixed sizes' rate rule uses (``None``: the
    adaptive run's, measured here, which then runs first). Odd seeds run the arms in reverse order, so
    that a slow spell of this shared machine does not always fall on the same arm."""
    n_train = train.validate(run.with_batch_size(32), model=False).n_train
    sizes = candidates(n_train)
    run = dataclasses.replace(run, seed=seed)
    arms = {"adaptive": configure(run, n_train, 32, batch_schedule="adaptive", max_batch=sizes[-1],
                                  diagnostics=("gns",))}
    out = {"adaptive": train.run(arms["adaptive"], store, f"adaptive-s{seed}", verbose=0).summary} if not noise_scale else {}
    rule = dataclasses.replace(run.optim, lr_scaling="noise", noise_scale=noise_scale or out["adaptive"]["gns_mean"])
    for size in sizes:
        arms[f"fixed {size}"] = configure(dataclasses.replace(run, optim=rule), n_train, size)
    step = dataclasses.replace(run.optim, schedule="step")
    arms["increase"] = configure(dataclasses.replace(run, optim=step), n_train, 32, batch_schedule="increase",
                                 max_batch=sizes[-1])
    arms["fixed 32 + step"] = configure(dataclasses.replace(run, optim=step), n_train, 32)
    order = list(arms) if seed % 2 == 0 else list(reversed(arms))
    for arm in order:
        if arm not in out:
            run_id = arm.replace("fixed ", "bs").replace(" + ", "-")
            out[arm] = train.run(arms[arm], store, f"{run_id}-s{seed}", verbose=0).summary
    for arm in arms:
        summary = out[arm]
        print(f"  {name} seed {seed} {arm}: {summary['status']}, s2t {summary.get('seconds_to_target')}, "
              f"acc {summary.get('final_val_accuracy'):.3f}, sizes {path(summary)}", flush=True)
    return {arm: out[arm] for arm in arms}


def warm_up(name: str, run: RunConfig, out: str) -> None:
    """One short untimed run first: the process's first graph and kernels cost more than any later one's."""
    n_train = train.validate(run.with_batch_size(32), model=False).n_train
    train.run(configure(run, n_train, 32, epochs=1), Store(out, f"warm-up-{name}"), verbose=0)


def path(summary: dict) -> str:
    return "→".join(str(e["batch_size"]) for e in summary.get("schedule") or []) or str(summary["batch_size"])


def compare(name: str, run: RunConfig, seeds: int, out: str) -> tuple[pd.DataFrame, dict]:
    store = Store(out, f"{name}-adaptive-vs-fixed")
    warm_up(name, run, out)
    runs, noise_scale = [], None
    for seed in range(seeds):
        arms = one_seed(name, run, seed, store, noise_scale)
        noise_scale = noise_scale or arms["adaptive"]["gns_mean"]
        fixed = {a: s for a, s in arms.items() if a.startswith("fixed") and "+" not in a}
        reached = {a: s["seconds_to_target"] for a, s in fixed.items() if s.get("seconds_to_target") is not None}
        best = min(reached, key=reached.get) if reached else None
        for arm, summary in arms.items():
            runs.append({"seed": seed, "arm": arm, "path": path(summary), "switch_seconds": summary.get("switch_seconds"),
                         **{f: summary.get(f) for f in FIELDS}})
        if best:
            runs.append({"seed": seed, "arm": "best fixed", "path": best, **{f: fixed[best].get(f) for f in FIELDS}})
    frame = pd.DataFrame(runs)
    return frame, {"noise_scale": noise_scale, **costs(run, frame)}


def costs(run: RunConfig, frame: pd.DataFrame, repeats: int = 30) -> dict[str, float]:
    """Median seconds of a switch (from the adaptive runs), of one noise estimate and of one training
    step at batch 32 (both timed here on the workload's model, side by side)."""
    import numpy as np

    from kerasbatch.callbacks.gradient_noise import GradientNoise, probe_batches
    from kerasbatch.data import datasets as data

    config = run.with_batch_size(32)
    dataset = train.validate(config, model=False)
    with train.run_scope("float32", 0):
        model = train.compile_model(config, dataset)
        noise = GradientNoise(probe_batches(config, dataset), population=dataset.n_train)
        noise.set_model(model)
        noise.on_train_begin()
        x, y = next(iter(data.pipeline(dataset.x_train, dataset.y_train, 32, training=True)))
        model.train_on_batch(x, y)
        noise.measure()  # both traced before timing
        steps, estimates = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            model.train_on_batch(x, y)
            steps.append(time.perf_counter() - started)
            started = time.perf_counter()
            noise.measure()
            estimates.append(time.perf_counter() - started)
    switches = [s for value in frame["switch_seconds"].dropna() for s in value]
    return {"switch": float(np.median(switches)) if switches else math.nan, "noise estimate": float(np.median(estimates)),
            "step at 32": float(np.median(steps))}


def table(frame: pd.DataFrame) -> pd.DataFrame:
    def cell(values: pd.Series) -> str:
        v = pd.to_numeric(values, errors="coerce")
        missing = int(v.isna().sum())
        v = v.dropna()
        if not len(v):
            return "not reached"
        text = f"{v.mean():.3g} ± {v.std(ddof=1):.2g}" if len(v) > 1 else f"{v.mean():.3g}"
        return text + (f" ({missing} not reached)" if missing else "")

    rows = {}
    for arm, group in frame.groupby("arm", sort=False):
        rows[arm] = {f: cell(group[f]) for f in FIELDS}
        rows[arm]["batch sizes"] = ", ".join(dict.fromkeys(group["path"]))
    return pd.DataFrame(rows).T


def goals(frame: pd.DataFrame) -> dict[str, float]:
    mean = frame.groupby("arm")[["seconds_to_target", "final_val_accuracy"]].mean()
    out = {}
    for arm in ("adaptive", "increase"):
        if arm in mean.index and "best fixed" in mean.index:
            out[f"{arm} ÷ best fixed, seconds to target (goal ≤ 1)"] = (
                mean.loc[arm, "seconds_to_target"] / mean.loc["best fixed", "seconds_to_target"])
            out[f"{arm} − best fixed, final accuracy, points (goal ≥ −0.5)"] = 100 * (
                mean.loc[arm, "final_val_accuracy"] - mean.loc["best fixed", "final_val_accuracy"])
    if {"increase", "fixed 32 + step"} <= set(mean.index):
        out["increase ÷ fixed 32 + step decay, seconds to target (goal ≤ 1)"] = (
            mean.loc["increase", "seconds_to_target"] / mean.loc["fixed 32 + step", "seconds_to_target"])
    for arm in ("adaptive", "increase"):
        if arm in mean.index and "fixed 32" in mean.index:
            out[f"{arm} speed-up over batch 32 (goal ≥ 2)"] = (
                mean.loc["fixed 32", "seconds_to_target"] / mean.loc[arm, "seconds_to_target"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits", help="of mnist1d, digits, tabular (default digits)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=None, help="Folder for the studies (default: a temporary one).")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kerasbatch-adaptive-") as scratch:
        for name in args.datasets.split(","):
            run = workloads(args.out or scratch, **{name: EPOCHS[name]})[name]
            frame, info = compare(name, run, args.seeds, args.out or scratch)
            with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 60):
                print(f"\n{name}: {args.seeds} seeds, noise scale for the fixed sizes' rate rule "
                      f"{info['noise_scale']:.3g}")
                print(table(frame).to_markdown())
                print(f"  cost: a switch {1000 * info['switch']:.2f} ms, a noise estimate {1000 * info['noise estimate']:.2f} ms, "
                      f"a training step at batch 32 {1000 * info['step at 32']:.2f} ms (medians)")
                for label, value in goals(frame).items():
                    print(f"  {label}: {value:.3g}" if math.isfinite(value) else f"  {label}: n/a")
    print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
