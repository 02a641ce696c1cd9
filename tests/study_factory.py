"""A synthetic but realistic study folder, written through the real store, for tests that need no TF.

The numbers follow the models in DESIGN.md so that plots and fits have something true to find:
steps to the target follow ``S(B) = S_MIN (1 + B_NOISE / B)``, validation accuracy rises towards a
ceiling that drops slowly with batch size (the generalization gap), throughput saturates with batch
size, and the gradient noise scale grows during training. With ``TRAIN_EXAMPLES`` examples and
``EPOCHS`` epochs, runs with B ≤ 512 reach ``TARGET`` and runs with B ≥ 1024 do not.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from kerasbatch.store import HISTORY, Store, write_text

TRAIN_EXAMPLES = 12_000
EPOCHS = 3
TARGET = 0.9
S_MIN = 40.0
B_NOISE = 256.0
BASE_LR = 0.01
BASE_BATCH = 32
SEED_SPREAD = 0.004  # standard deviation of the accuracy ceiling across the seeds of an arm study


def make_study(
    root: Path,
    name: str = "s",
    batch_sizes: Iterable[int] = (32, 128, 512),
    kind: str = "sweep",
    failed: Iterable[int | str] = (),
) -> Path:
    """Write ``root/name`` with one finished run per batch size and return the study folder.

    ``kind="sweep"`` names runs ``bs<B>`` (so batch sizes must be distinct); ``"tune"`` and
    ``"train"`` name them ``trial_0001``, ... and allow repeated batch sizes. A run whose batch size
    or run id is in ``failed`` diverges in its second epoch: status ``"diverged"``, NaN metrics.
    """
    batch_sizes, failed = [int(b) for b in batch_sizes], set(failed)
    if kind == "sweep" and len(set(batch_sizes)) != len(batch_sizes):
        raise ValueError("a sweep runs each batch size once; use kind='tune' for repeats")
    store = Store(root, name)
    store.claim_study(kind, _settings(batch_sizes))
    for index, batch_size in enumerate(batch_sizes, start=1):
        run_id = f"bs{batch_size}" if kind == "sweep" else f"trial_{index:04d}"
        lr = BASE_LR * batch_size / BASE_BATCH * (1 + 0.25 * (batch_sizes[: index - 1].count(batch_size)))
        history = _history(batch_size, lr, seed=index)
        diverged = batch_size in failed or run_id in failed
        if diverged:
            diverging = ["loss", "accuracy", "val_loss", "val_accuracy", "grad_norm"]
            history.loc[history["epoch"] >= 2, diverging] = np.nan
        config = {"batch_size": batch_size, "learning_rate": lr, "epochs": EPOCHS, "seed": index}
        folder = store.begin_run(run_id, config, identity=config)
        write_text(folder / HISTORY, history.to_csv(index=False))
        summary = _summary(run_id, batch_size, lr, history, diverged)
        if kind == "tune":
            summary["trial_id"] = f"{index:04d}"
            summary["hyperparameters"] = {"batch_size": batch_size, "learning_rate": lr}
        store.finish_run(run_id, summary)
    return store.study_dir


def make_arm_study(
    root: Path,
    name: str = "arms",
    arms: dict[str, float] | None = None,
    batch_sizes: Iterable[int] = (32, 128, 512),
    seeds: Iterable[int] = (0, 1),
    failed: Iterable[str] = (),
) -> Path:
    """Write a study with arms and repeats, as ``kerasbatch study`` lays it out, and return its folder.

    ``arms`` maps each arm's name to the shift of its accuracy ceiling (default: ``base`` unchanged,
    ``linear+warmup`` 0.01 higher). Runs are named ``<arm>-bs<B>-s<seed>`` and their summaries carry
    ``arm`` and ``seed``; each seed draws its own noise, so repeats differ. A run id in ``failed``
    diverges as in :func:`make_study`.
    """
    arms = arms if arms is not None else {"base": 0.0, "linear+warmup": 0.01}
    batch_sizes, seeds, failed = [int(b) for b in batch_sizes], [int(s) for s in seeds], set(failed)
    store = Store(root, name)
    store.claim_study("study", {**_settings(batch_sizes), "seeds": seeds,
                                "arms": [{"name": arm} for arm in arms]})
    for arm_index, (arm, shift) in enumerate(arms.items()):
        for batch_size in batch_sizes:
            for seed in seeds:
                run_id = f"{arm}-bs{batch_size}-s{seed}"
                lr = BASE_LR * batch_size / BASE_BATCH
                history = _history(batch_size, lr, seed=1000 * arm_index + 10 * seed + batch_size,
                                   shift=shift, spread=SEED_SPREAD)
                diverged = run_id in failed
                if diverged:
                    history.loc[history["epoch"] >= 2, ["loss", "accuracy", "val_loss", "val_accuracy"]] = np.nan
                config = {"arm": arm, "batch_size": batch_size, "learning_rate": lr, "epochs": EPOCHS, "seed": seed}
                folder = store.begin_run(run_id, config, identity=config)
                write_text(folder / HISTORY, history.to_csv(index=False))
                summary = {**_summary(run_id, batch_size, lr, history, diverged), "arm": arm, "seed": seed}
                store.finish_run(run_id, summary)
    return store.study_dir


def _settings(batch_sizes: list[int]) -> dict:
    return {
        "dataset": "mnist",
        "model": "mlp",
        "optimizer": "sgd",
        "epochs": EPOCHS,
        "base_learning_rate": BASE_LR,
        "base_batch_size": BASE_BATCH,
        "lr_scaling": "linear",
        "warmup_epochs": 0,
        "precision": "float32",
        "target": TARGET,
        "seed": 0,
        "batch_sizes": batch_sizes,
    }


def _history(batch_size: int, lr: float, seed: int, shift: float = 0.0, spread: float = 0.001) -> pd.DataFrame:
    """Three epochs of plausible per-epoch numbers, diagnostics columns included."""
    rng = np.random.default_rng(seed)
    epoch = np.arange(1, EPOCHS + 1)
    steps_per_epoch = math.ceil(TRAIN_EXAMPLES / batch_size)
    steps = epoch * steps_per_epoch
    # Ceiling falls ~0.2 points per doubling of the batch; the time constant is chosen so that the
    # curve crosses TARGET after exactly S(B) steps.
    ceiling = 0.985 + shift - 0.002 * math.log2(batch_size / BASE_BATCH) + rng.normal(0, spread)
    steps_needed = S_MIN * (1 + B_NOISE / batch_size)
    tau = steps_needed / math.log((ceiling - 0.1) / (ceiling - TARGET))
    val_accuracy = ceiling - (ceiling - 0.1) * np.exp(-steps / tau)
    accuracy = np.minimum(val_accuracy + 0.004 * epoch, 0.999)
    throughput = 20_000 * batch_size / (batch_size + 64)
    seconds = TRAIN_EXAMPLES / throughput + 0.4 + rng.uniform(0, 0.05, EPOCHS)
    grad_sq = 0.5 * np.exp(-epoch / 2)
    gns = B_NOISE * (0.6 + 0.2 * epoch)
    return pd.DataFrame({
        "epoch": epoch,
        "loss": -np.log(accuracy) + 0.02,
        "accuracy": accuracy,
        "val_loss": -np.log(val_accuracy) + 0.03,
        "val_accuracy": val_accuracy,
        "lr": lr,
        "seconds": seconds,
        "elapsed": np.cumsum(seconds),
        "samples_per_second": TRAIN_EXAMPLES / seconds,
        "steps": steps,
        "examples": np.minimum(steps * batch_size, epoch * TRAIN_EXAMPLES),
        "grad_norm": np.sqrt(grad_sq * (1 + gns / batch_size)),
        "gns": gns,
        "grad_sq": grad_sq,
        "trace_sigma": gns * grad_sq,
        "weight_distance": lr * np.sqrt(steps) * 2.0,
        "step_time_median": batch_size / throughput,
        "step_time_p90": 1.2 * batch_size / throughput,
        "loss_scale": np.nan,  # float32 runs have no loss scale
    })


def _summary(run_id: str, batch_size: int, lr: float, history: pd.DataFrame, diverged: bool) -> dict:
    last = history.iloc[-1]
    reached = history[history["val_accuracy"] >= TARGET]
    first = reached.iloc[0] if len(reached) and not diverged else None
    nan = float("nan")
    return {
        "run_id": run_id,
        "status": "diverged" if diverged else "ok",
        "error": "loss became NaN in epoch 2" if diverged else None,
        "batch_size": batch_size,
        "learning_rate": lr,
        "optimizer": "sgd",
        "precision": "float32",
        "dataset": "mnist",
        "model": "mlp",
        "epochs": EPOCHS,
        "best_val_accuracy": nan if diverged else history["val_accuracy"].max(),
        "final_val_accuracy": last["val_accuracy"],
        "test_accuracy": nan if diverged else last["val_accuracy"] - 0.002,
        "generalization_gap": last["accuracy"] - last["val_accuracy"],
        "target": TARGET,
        "epochs_to_target": None if first is None else int(first["epoch"]),
        "steps_to_target": None if first is None else int(first["steps"]),
        "examples_to_target": None if first is None else int(first["examples"]),
        "seconds_to_target": None if first is None else first["elapsed"],
        "samples_per_second": nan if diverged else history["samples_per_second"].mean(),
        "train_seconds": last["elapsed"],
        "grad_norm": last["grad_norm"],
        "gns": last["gns"],
        "weight_distance": last["weight_distance"],
        "grad_norm_mean": history["grad_norm"].mean(),
        "gns_mean": history["gns"].mean(),
    }
