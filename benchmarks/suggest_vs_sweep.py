"""The learner against the sweep it replaces: is the suggested batch as fast as the best one, and cheaper?

For each dataset it runs ``kerasbatch.learner.suggest`` (noise scale measured at the base batch, candidates
profiled in ascending order until larger ones cannot help, the time-to-target minimiser chosen), then
trains every size it could have chosen (multiples of 8 doubling up to the training set, those its
profile skipped too) to the target with the same learning-rate rule (the noise-scale rule with the
measured ``B_noise``) and step-granular evaluation (about eight evaluations an epoch at the base batch,
as often in examples at every size, so seconds to target are exact within a few steps and leave
evaluation out). Printed per dataset, all from this one process run:

- the suggested batch and the sweep's best (least seconds to the target), and the suggested batch's
  measured seconds to target over the best's (goal: ≤ 1.25);
- suggest's cost over the sweep's (wall time of everything each did; goal: ≤ 0.15);
- the suggestion's measured speed-up over batch 32 (goal: ≥ 2 where the workload allows);
- ``B_noise`` fitted to the sweep's steps to target (``S(B) = S_min (1 + B_noise/B)``) beside the measured
  noise scale, and the final validation accuracy of the suggested and the best run.

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

from kerasbatch.training import train  # noqa: E402
from kerasbatch.config.run import RunConfig  # noqa: E402
from kerasbatch.learner.predict import candidate_sizes  # noqa: E402
from kerasbatch.noise.estimators import fit_steps_curve  # noqa: E402
from kerasbatch.store import Store  # noqa: E402
from kerasbatch.config.learner import SuggestConfig  # noqa: E402
from kerasbatch.learner.suggest import suggest  # noqa: E402
from workloads import evaluation_steps, workloads  # noqa: E402

WORKLOADS = workloads(digits=60, mnist1d=60)


def compare(name: str, run: RunConfig, out: str) -> dict:
    started = time.perf_counter()
    suggestion = suggest(SuggestConfig(run=run, budget_seconds=60), Store(out, f"{name}-suggest"), progress=print)
    suggest_cost = time.perf_counter() - started
    optim = dataclasses.replace(run.optim, lr_scaling="noise", noise_scale=suggestion.noise_scale)
    base = run.optim.base_batch
    n_train = train.validate(run.with_batch_size(base), model=False).n_train
    sweep_store, measured, sweep_cost = Store(out, f"{name}-sweep"), {}, 0.0
    # The sweep the learner replaces: every size it could have chosen, including those its profile
    # left out once larger sizes could not help.
    for size in candidate_sizes(n_train, 32):
        every = evaluation_steps(n_train, size)
        config = dataclasses.replace(run, batch_size=size, optim=optim, stop_at_target=True, eval_every_steps=every,
                                     diagnostics=())
        began = time.perf_counter()
        result = train.run(config, sweep_store, verbose=0)
        sweep_cost += time.perf_counter() - began
        measured[size] = result.summary
        print(f"  sweep batch {size}: {result.status}, seconds to target {result.summary.get('seconds_to_target')}")
    reached = {b: s["seconds_to_target"] for b, s in measured.items() if s.get("seconds_to_target") is not None}
    best = min(reached, key=reached.get) if reached else None
    chosen = suggestion.batch_size
    steps = {b: s["steps_to_target"] for b, s in measured.items() if s.get("steps_to_target") is not None}
    _, fitted = fit_steps_curve(list(steps), list(steps.values())) if len(steps) >= 2 else (math.nan, math.nan)
    ratio = reached[chosen] / reached[best] if chosen in reached and best else math.nan
    speedup = reached[32] / reached[chosen] if 32 in reached and chosen in reached else math.nan
    return {"dataset": name, "suggested": chosen, "sweep best": best, "s2t suggested / best": ratio,
            "suggest cost / sweep cost": suggest_cost / sweep_cost, "speed-up over 32": speedup,
            "predicted speed-up": suggestion.predicted_speedup, "B_noise measured": suggestion.noise_scale,
            "B_noise fitted": fitted, "acc suggested": measured[chosen].get("final_val_accuracy"),
            "acc best": measured[best].get("final_val_accuracy") if best else math.nan,
            "sizes profiled": len(suggestion.candidates), "sizes swept": len(measured),
            "suggest s": suggest_cost, "sweep s": sweep_cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist1d")
    parser.add_argument("--out", default=None, help="Folder for the studies (default: a temporary one).")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kerasbatch-suggest-") as scratch:
        for name in args.datasets.split(","):
            rows.append(compare(name, WORKLOADS[name], args.out or scratch))
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).set_index("dataset").T.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
