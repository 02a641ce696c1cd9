"""The run's summary.json: the required fields, and the diagnostics taken over the run."""

import json

import numpy as np
import pandas as pd
import pytest


SUMMARY_KEYS = ["status", "batch_size", "learning_rate", "precision", "best_val_accuracy", "final_val_accuracy",
                "epochs_to_target", "steps_to_target", "examples_to_target", "seconds_to_target",
                "samples_per_second", "train_seconds", "generalization_gap"]
DIAGNOSTIC_COLUMNS = ["grad_norm", "gns", "grad_sq", "trace_sigma", "weight_distance", "step_time_median",
                      "step_time_p90"]


def test_summary_holds_the_required_fields(dots_result):
    summary = json.loads((dots_result.path / "summary.json").read_text())
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary["status"] == "ok" and summary["precision"] == "float32"
    assert summary["batch_size"] == 32 and summary["learning_rate"] == pytest.approx(0.05)
    history = pd.read_csv(dots_result.path / "history.csv")
    assert summary["best_val_accuracy"] == pytest.approx(history["val_accuracy"].max())
    assert summary["final_val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1])
    reached = history.index[history["val_accuracy"] >= 0.6][0]
    assert summary["epochs_to_target"] == reached + 1
    assert summary["steps_to_target"] == history["steps"][reached]
    assert summary["examples_to_target"] == history["examples"][reached]
    assert 0 < summary["seconds_to_target"] <= summary["train_seconds"]
    assert summary["generalization_gap"] == pytest.approx(summary["train_accuracy"] - summary["test_accuracy"])


def test_real_run_logs_every_diagnostic(diagnosed):
    history = pd.read_csv(diagnosed.path / "history.csv")
    assert set(DIAGNOSTIC_COLUMNS) <= set(history.columns)
    assert np.isfinite(history["gns"]).all() and (history["gns"] > 0).all()
    assert (history["trace_sigma"] > 0).all() and (history["grad_norm"] > 0).all()
    assert history["weight_distance"].is_monotonic_increasing
    summary = diagnosed.summary
    assert summary["gns"] == pytest.approx(history["gns"].iloc[-1])
    # The mean noise scale is a ratio of means (mean tr(Σ) over mean |G|²), not a mean of epoch ratios.
    assert summary["gns_mean"] == pytest.approx(history["trace_sigma"].mean() / history["grad_sq"].mean())
    assert summary["gns_mean"] != pytest.approx(history["gns"].mean(), rel=1e-6)
    # |G| is the square root of the noise-free estimate, below the noisy batch gradient's norm.
    np.testing.assert_allclose(history["true_grad_norm"], np.sqrt(history["grad_sq"]))
    assert (history["true_grad_norm"] < history["grad_norm"]).all()
    assert summary["grad_norm_mean"] == pytest.approx(history["grad_norm"].mean())
