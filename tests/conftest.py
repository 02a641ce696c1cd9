"""Shared fixtures: tiny real runs, trained once per session and read by many tests."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
from pathlib import Path

import pytest
import pandas as pd

from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.training import train
from kerasbatch.store import Store
from kerasbatch.cli.app import run as cli
from kerasbatch.config.study import load_study

from tests.study_factory import make_arm_study


def pytest_collection_finish(session):
    """Keep what collection imported (TensorFlow, Keras, pandas, matplotlib: some 450 000 objects that stay
    for the whole session) out of the garbage collector's sight. Every run ends in a few full collections
    (Keras's clear_session and the run's own); they then walk only what the tests made, and a run of the
    tiny models here takes half the time. Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """The same at the end of each test file, once its module fixtures are gone: what is still there then
    (session fixtures, TensorFlow's caches; some 10 000 objects a file) would otherwise be walked again by
    every collection in the files after it."""
    yield
    if nextitem is None or nextitem.path != item.path:
        gc.collect()
        gc.freeze()


# Two workers (pytest-xdist, setup.cfg): each test file is one unit of work, except files that read one
# of the costlier session fixtures, which go to one worker together so that it is built once.
SHARING = {
    "the tiny study and the digits sweep": (
        "tests/studies/test_study.py", "tests/cli/test_train_commands.py", "tests/cli/test_result_commands.py",
        "tests/cli/test_output.py", "tests/reports/test_tables.py", "tests/studies/test_sweep.py",
        "tests/test_export.py"),
    "the random search": (
        "tests/tuning/test_tune.py", "tests/tuning/test_distributed.py", "tests/tuning/test_tuners.py"),
}
TOGETHER = {path: unit for unit, paths in SHARING.items() for path in paths}
# The longest units, longest first (separate processes, the most training): started first, none of them
# is left to run alone at the end while the other worker has nothing more to do.
FIRST = (
    "the tiny study and the digits sweep", "tests/cli/test_distributed_tune.py", "tests/learner/test_profile.py",
    "tests/cli/test_resume.py", "tests/test_notebook.py", "tests/test_readme.py", "the random search",
    "tests/callbacks/test_gradient_noise.py", "tests/training/test_distribute.py", "tests/training/test_fit.py",
    "tests/optim/test_state.py", "tests/noise/test_probe.py", "tests/training/test_train.py",
    "tests/tuning/test_wrap.py",
)


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return TOGETHER.get(path, path)


def pytest_collection_modifyitems(items):
    rank = {unit: place for place, unit in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(FIRST)))  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` by the units above, in the order of the collection."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # pytest-xdist 3.8 would sort the units by their number of tests

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ByUnit(config, log)


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


@pytest.fixture(scope="session")
def diagnosed(tmp_path_factory):
    config = dots_run(epochs=3, diagnostics_every=2)
    return train.run(config, Store(tmp_path_factory.mktemp("runs"), "d"), verbose=0)


DIGITS = dict(data=DataConfig(dataset="digits"), model=ModelConfig(name="mlp"), precision="float32")


@pytest.fixture(scope="session")
def adaptive_cli_run(tmp_path_factory):
    """Acceptance 1, through the command line as a user types it."""
    out = tmp_path_factory.mktemp("runs")
    code = cli(["train", "--dataset", "digits", "--model", "mlp", "--batch-size", "32", "--batch-schedule",
                "adaptive", "--epochs", "6", "--out", str(out), "--study", "s", "--quiet"])
    folder = out / "s" / "adaptive_bs32"
    return code, pd.read_csv(folder / "history.csv"), json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="session")
def increase_run(tmp_path_factory):
    config = RunConfig(**DIGITS, batch_size=32, epochs=4, batch_schedule="increase", max_batch=320,
                       optim=OptimConfig(schedule="step", learning_rate=0.05), diagnostics="none")
    return train.run(config, Store(tmp_path_factory.mktemp("runs"), "inc"), verbose=0)


# Two arms × two batch sizes × two seeds of one epoch each: eight runs of a second or two.
STUDY = """\
study: tiny
dataset: digits
model: mlp
widths: [32]
epochs: 3
precision: float32
diagnostics: none
learning_rate: 0.05
batch_sizes: [256, 32]
repeats: 3
arms:
  - {name: none, lr_scaling: none}
  - {name: linear, lr_scaling: linear}
quick:
  epochs: 1
"""


RUN_IDS = sorted(f"{arm}-bs{b}-s{seed}" for arm in ("none", "linear") for b in (32, 256) for seed in (0, 1))


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    """The tiny study run once, quick, with two repeats, through the Python API."""
    from kerasbatch.studies.study import run_study

    root = tmp_path_factory.mktemp("study")
    path = root / "tiny.yaml"
    path.write_text(STUDY)
    result = run_study(load_study(path, quick=True, repeats=2), root / "runs")
    return path, result


@pytest.fixture(scope="session")
def arm_study(tmp_path_factory) -> Path:
    """Two arms × three batch sizes × two seeds; one seed of base at 512 diverged."""
    return make_arm_study(tmp_path_factory.mktemp("out"), failed=("base-bs512-s1",))
