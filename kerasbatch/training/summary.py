"""A run's ``summary.json``: what it reached, what it cost, its diagnostics, on which versions."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbatch._version import __version__
from kerasbatch.callbacks import Throughput
from kerasbatch.config import diagnostics as registry
from kerasbatch.data import datasets as data
from kerasbatch.training import distribute, precision
from kerasbatch.training.warm_start import to_target


def evaluate(model: keras.Model, dataset: data.Dataset, summary: dict[str, Any]) -> dict[str, Any]:
    """Accuracy on the test split and (in inference mode) on the training split, and their gap."""
    test = model.evaluate(data.pipeline(dataset.x_test, dataset.y_test, data.EVAL_BATCH, training=False),
                          verbose=0, return_dict=True)
    train = model.evaluate(data.pipeline(dataset.x_train, dataset.y_train, data.EVAL_BATCH, training=False),
                           verbose=0, return_dict=True)
    return {
        "test_loss": float(test["loss"]),
        "test_accuracy": float(test["accuracy"]),
        "train_accuracy": float(train["accuracy"]),
        # Keskar et al.'s gap: accuracy on the examples trained on minus accuracy on unseen ones.
        "generalization_gap": float(train["accuracy"]) - float(test["accuracy"]),
    }

def summarize(config, callbacks, history, status, error, train_seconds, earlier) -> dict[str, Any]:
    throughput: Throughput = callbacks["throughput"]
    val = [row.get("val_accuracy", math.nan) for row in history]
    reached = to_target(getattr(callbacks.get("target"), "reached", None), earlier, config.batch_size)
    steps = throughput.steps + earlier.steps
    summary: dict[str, Any] = {
        "run_id": None,
        "status": status,
        "error": error,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "base_learning_rate": config.optim.learning_rate,
        "lr_scaling": config.optim.lr_scaling,
        "optimizer": config.optim.optimizer,
        "precision": precision.resolve(config.precision),
        "precision_requested": config.precision,
        "strategy": config.strategy,
        "replicas": distribute.get_strategy(config.strategy).num_replicas_in_sync,
        "dataset": config.data.dataset,
        "model": config.model.name,
        "seed": config.seed,
        "epochs": earlier.epoch + len(history) - len(earlier.rows),
        "steps": steps,
        "examples": throughput.examples + earlier.steps * config.batch_size,
        "best_val_accuracy": float(np.nanmax(val)) if np.isfinite(val).any() else math.nan,
        "final_val_accuracy": float(val[-1]) if val else math.nan,
        "test_accuracy": math.nan,
        "generalization_gap": math.nan,
        "target": config.target,
        **reached,
        "samples_per_second": throughput.samples_per_second,
        "train_seconds": train_seconds + earlier.seconds,
        "eval_seconds": callbacks["evaluation"].eval_seconds + earlier.eval_seconds,
        "diverged_at_step": callbacks["divergence"].diverged_at_step,
    }
    summary.update(diagnostic_summary(history))
    summary.update(versions())
    return summary

def diagnostic_summary(history: list[dict[str, float]]) -> dict[str, float]:
    """Last and mean value of every diagnostic column that the run logged."""
    out: dict[str, float] = {}
    for column in registry.COLUMNS:
        values = np.asarray([row.get(column, math.nan) for row in history], dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size:
            out[column] = float(finite[-1])
            out[f"{column}_mean"] = float(finite.mean())
    # A ratio is averaged as its parts are: mean tr(Σ) over mean |G|², not a mean of epoch ratios, which
    # would drop the epochs whose |G|² estimate was noise and weigh the rest wrongly.
    if "grad_sq_mean" in out and "trace_sigma_mean" in out:
        ok = out["grad_sq_mean"] > 0
        out["gns_mean"] = out["trace_sigma_mean"] / out["grad_sq_mean"] if ok else math.nan
    return out

def versions() -> dict[str, str]:
    return {"kerasbatch_version": __version__, "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__}
