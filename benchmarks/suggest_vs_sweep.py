"""The learner against the sweep it replaces: is the suggested batch as fast as the best one, and cheaper?

For each workload it runs ``kerasbatch.learner.suggest`` (noise scale measured at the base batch, candidates
profiled in ascending order until larger ones cannot help, the time-to-target minimiser chosen; the
smallest size of its range when it is uncertain), then trains every size it could have chosen
(multiples of 8 doubling up to the training set, those its profile skipped too) to the target with the
learner's rate rule (the noise-scale rule for SGD, the Adam rule for Adam, with the measured ``B_noise``)
and step-granular evaluation (about eight evaluations an epoch's worth of examples apart at every size,
so seconds to target are exact within a few steps and leave evaluation out). Printed per workload, all
from this one process run:

- the suggestion, its confidence and the range of sizes it states, and the sweep's best (least seconds
  to the target); the suggested batch's measured seconds to target over the best's (goal: ≤ 1.25, or
  uncertain with the best inside the range);
- suggest's cost over the sweep's (wall time of everything each did; goal: ≤ 0.15 where the sweep
  takes over two minutes), and where suggest's time went;
- how well each prediction of steps at a size, relative to the base batch's, matches the sweep's
  measured steps (median ``|log(predicted / measured)|`` over the sizes that reached the target; the
  window form, one noise scale, against the trajectory form, stretch by stretch), and each one's choice;
- ``B_noise`` fitted to the sweep's steps to target (``S(B) = S_min (1 + B_noise/B)``) and the fit's R²;
- for Adam workloads, the suggested batch (unless it is the base batch, where every rule gives the same
  rate) trained under the ``adam``, ``sqrt`` and ``noise`` rules, two seeds each: the mean seconds to
  target under the others over those under ``adam`` (goal: ≥ 1).

    python benchmarks/suggest_vs_sweep.py [--datasets digits,mnist1d] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kerasbatch.training import train  # noqa: E402
from kerasbatch.config.run import RunConfig  # noqa: E402
from kerasbatch.learner.predict import StepsModel, best_batch, candidate_sizes, steps_model  # noqa: E402
from kerasbatch.noise.estimators import fit_steps_curve  # noqa: E402
from kerasbatch.store import Store  # noqa: E402
from kerasbatch.config.learner import SuggestConfig  # noqa: E402
from kerasbatch.errors import KerasbatchError  # noqa: E402
from kerasbatch.config.scaling import adam_or_noise  # noqa: E402
from kerasbatch.learner.suggest import suggest  # noqa: E402
from workloads import evaluation_steps, workloads  # noqa: E402

EPOCHS = {"digits": 60, "digits-mlp": 200, "mnist1d": 60, "dots": 100, "tabular": 30, "shapes": 40}
BUDGET_SECONDS = 60


def train_to_target(run: RunConfig, size: int, rule: str, noise_scale: float, store: Store, n_train: int,
                    name: str | None = None) -> tuple[dict, float]:
    optim = dataclasses.replace(run.optim, lr_scaling=rule, noise_scale=noise_scale)
    config = dataclasses.replace(run, batch_size=size, optim=optim, stop_at_target=True, diagnostics=(),
                                 eval_every_steps=evaluation_steps(n_train, size))
    began = time.perf_counter()
    result = train.run(config, store, name, verbose=0)
    return result.summary, time.perf_counter() - began


def steps_error(model: StepsModel, steps: dict[int, int], base: int) -> float:
    """Median ``|log(predicted / measured)|`` of steps relative to the base batch's, over the sizes reached."""
    if base not in steps:
        return math.nan
    errors = [abs(math.log(model.factor(b) / (s / steps[base]))) for b, s in steps.items() if b != base]
    return float(np.median(errors)) if errors else math.nan


def r_squared(steps: dict[int, int], s_min: float, noise: float) -> float:
    if not math.isfinite(noise):
        return math.nan
    measured = np.array(list(steps.values()), float)
    fitted = np.array([s_min * (1 + noise / b) for b in steps])
    return float(1 - np.sum((measured - fitted) ** 2) / np.sum((measured - measured.mean()) ** 2))


def compare(name: str, run: RunConfig, out: str) -> dict:
    started = time.perf_counter()
    suggestion = suggest(SuggestConfig(run=run, budget_seconds=BUDGET_SECONDS), Store(out, f"{name}-suggest"),
                         progress=print)
    suggest_cost = time.perf_counter() - started
    rule = adam_or_noise(run.optim.optimizer)
    base = run.optim.base_batch
    n_train = train.validate(run.with_batch_size(base), model=False).n_train
    sweep_store, measured, sweep_cost = Store(out, f"{name}-sweep"), {}, 0.0
    # The sweep the learner replaces: every size it could have chosen, including those its profile
    # left out once larger sizes could not help.
    for size in candidate_sizes(n_train, 32):
        measured[size], seconds = train_to_target(run, size, rule, suggestion.noise_scale, sweep_store, n_train)
        sweep_cost += seconds
        print(f"  sweep batch {size}: seconds to target {measured[size].get('seconds_to_target')}")
    reached = {b: s["seconds_to_target"] for b, s in measured.items() if s.get("seconds_to_target") is not None}
    best = min(reached, key=reached.get) if reached else None
    chosen = suggestion.batch_size
    low, high = suggestion.confidence["batch_range"]
    steps = {b: s["steps_to_target"] for b, s in measured.items() if s.get("steps_to_target") is not None}
    s_min, fitted = fit_steps_curve(list(steps), list(steps.values())) if len(steps) >= 2 else (math.nan, math.nan)
    stretches = suggestion.measurement["stretches"]
    window = steps_model(suggestion.noise_scale, stretches, base, "window")
    whole = steps_model(suggestion.noise_scale, stretches, base, "trajectory")
    step_times = {r["batch_size"]: r["step_time"] for r in suggestion.candidates}
    row = {"dataset": name, "optimizer": run.optim.optimizer, "suggested": chosen,
           "confidence": suggestion.confidence["level"], "range": f"{low}–{high}", "sweep best": best,
           "best in range": best is not None and low <= best <= high,
           "s2t suggested / best": _ratio(reached, chosen, best),
           "suggest cost / sweep cost": suggest_cost / sweep_cost, "suggest s": suggest_cost, "sweep s": sweep_cost,
           "measuring s": suggestion.cost["measuring"], "profiling s": suggestion.cost["profiling"],
           "speed-up over 32": _ratio(reached, 32, chosen),
           "B_noise measured": suggestion.noise_scale, "relative error": suggestion.confidence["relative_error"],
           "B_noise fitted": fitted, "fit R²": r_squared(steps, s_min, fitted),
           "steps error window": steps_error(window, steps, base),
           "steps error trajectory": steps_error(whole, steps, base),
           "window choice": best_batch(window, step_times), "trajectory choice": best_batch(whole, step_times),
           "acc suggested": measured[chosen].get("final_val_accuracy") if chosen in measured else math.nan,
           "acc best": measured[best].get("final_val_accuracy") if best else math.nan}
    row["s2t window choice / best"] = _ratio(reached, row["window choice"], best)
    row["s2t trajectory choice / best"] = _ratio(reached, row["trajectory choice"], best)
    if rule == "adam" and chosen != base:  # the suggested batch under each rule, two seeds each
        mean = {}
        for other in ("adam", "sqrt", "noise"):
            seconds = []
            for seed in (run.seed, run.seed + 1):
                summary, _ = train_to_target(dataclasses.replace(run, seed=seed), chosen, other, suggestion.noise_scale,
                                             sweep_store, n_train, name=f"bs{chosen}-{other}-seed{seed}")
                seconds.append(summary.get("seconds_to_target") or math.inf)
            mean[other] = float(np.mean(seconds))
        row["s2t under sqrt / adam"] = mean["sqrt"] / mean["adam"]
        row["s2t under noise / adam"] = mean["noise"] / mean["adam"]
    print(row)
    return row


def _ratio(seconds: dict[int, float], a: int | None, b: int | None) -> float:
    if a is None or b is None or a not in seconds or b not in seconds:
        return math.nan
    return seconds[a] / seconds[b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist1d", help=f"Some of {','.join(EPOCHS)}.")
    parser.add_argument("--out", default=None, help="Folder for the studies (default: a temporary one).")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kerasbatch-suggest-") as scratch:
        names = args.datasets.split(",")
        for name, run in workloads(args.out or scratch, **{n: EPOCHS[n] for n in names}).items():
            try:
                rows.append(compare(name, run, args.out or scratch))
            except KerasbatchError as error:  # the learner's own refusal is a result too
                print(f"{name}: {error}")
                rows.append({"dataset": name, "suggested": f"error: {error}"})
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).set_index("dataset").T.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
