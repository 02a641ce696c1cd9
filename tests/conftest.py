"""Shared fixtures: tiny real runs, trained once per session and read by many tests."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig

# Small enough to train in a second or two on a CPU, big enough to learn something.
DOTS = DataConfig(dataset="dots", dots_samples=600)


def dots_run(**overrides) -> RunConfig:
    """A tiny mlp run on the dots set; keyword arguments replace RunConfig fields."""
    base = dict(data=DOTS, model=ModelConfig(name="mlp", widths=(16,)), optim=OptimConfig(learning_rate=0.05),
                batch_size=32, epochs=2, precision="float32", diagnostics_every=4)
    base.update(overrides)
    return RunConfig(**base)


@pytest.fixture(scope="session")
def digits_sweep(tmp_path_factory):
    """A finished two-run digits sweep (the acceptance example), shared by the table and CLI tests."""
    from kerasbatch.store import Store
    from kerasbatch.studies.sweep import sweep

    out = tmp_path_factory.mktemp("runs")
    run = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="mlp"), epochs=3,
                    precision="float32", target=0.5)
    store = Store(out, "s")
    results = sweep(SweepConfig(run=run, batch_sizes=(32, 256)), store, verbose=0)
    return store, results
