"""The README's Python examples run as written (the notebook one in tests/test_notebook.py), each in a
folder of its own with the study files beside it, and do what the README says they do."""

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def block(starting: str) -> str:
    found = [b for b in BLOCKS if b.startswith(starting)]
    assert len(found) == 1, f"one README example starts with {starting!r}"
    return found[0]


@pytest.fixture
def in_a_folder(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments", ignore=shutil.ignore_patterns("figures"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_python_example_is_run_by_a_test():
    # The notebook's, and the noise measurement's (a fragment run with a model and data below), included.
    assert len(BLOCKS) == 6


def test_the_noise_measurement_example(in_a_folder):
    import keras
    import tensorflow as tf

    x = tf.random.stateless_normal((256, 8), seed=(1, 2))
    y = tf.cast(tf.reduce_sum(x, axis=1) > 0, tf.int64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    scope = {"model": model, "dataset": tf.data.Dataset.from_tensor_slices((x, y)).batch(32), "n_train": 256}
    exec(compile(block("from kerasbatch.noise import measure"), "README.md", "exec"), scope)
    assert scope["estimate"].gns > 0 and scope["estimate"].grad_sq > 0


def test_the_python_api_example_sweeps_and_runs_a_study(in_a_folder):
    scope = {}
    exec(compile(block("from kerasbatch import RunConfig, SweepConfig"), "README.md", "exec"), scope)
    assert [r.summary["batch_size"] for r in scope["results"]] == [32, 512]
    assert len(scope["study"].table) == 2 and scope["study"].report.is_file()


def test_the_hypermodel_example_searches_three_trials(in_a_folder):
    scope = {}
    exec(compile(block("import keras_tuner as kt"), "README.md", "exec"), scope)
    trials = scope["tuner"].oracle.trials.values()
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    assert len(list((in_a_folder / "runs" / "bayes").glob("trial_*/summary.json"))) == 3


def test_the_plain_keras_example_changes_the_batch_inside_one_fit(in_a_folder, capsys):
    scope = {}
    exec(compile(block("import keras\nimport tensorflow as tf"), "README.md", "exec"), scope)
    adaptive = [entry["batch_size"] for entry in scope["adapt"].schedule]
    assert len(adaptive) >= 2 and adaptive == sorted(adaptive) and adaptive[0] == 32
    assert [entry["batch_size"] for entry in scope["grow"].schedule] == [32, 320, 320]
    from kerasbatch.training.traces import train_traces

    assert train_traces(scope["model"]) == 1  # two fits, every batch size, one trace


def test_the_own_hypermodel_example_gains_batch_size_and_learning_rate(in_a_folder):
    scope = {}
    exec(compile(block("import keras\nimport keras_tuner as kt"), "README.md", "exec"), scope)
    trials = scope["tuner"].oracle.trials.values()
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    assert all({"batch_size", "learning_rate", "units"} <= set(t.hyperparameters.values) for t in trials)
