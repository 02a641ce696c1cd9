"""A tf.distribute strategy trains the global batch: each replica gets its share, so a batch must split evenly."""

import json
import subprocess
import sys

import pytest

from kerasbatch.errors import ConfigError
from kerasbatch.training import distribute
from tests.searches import ENV, ROOT


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerasbatch.data import datasets as data
from kerasbatch.config.commands import TuneConfig
from kerasbatch.errors import ConfigError
from kerasbatch.store import Store
from kerasbatch.training import distribute
from kerasbatch.tuning.tune import tune
from tests.conftest import dots_run
run = dots_run(strategy="mirrored", diagnostics=(), epochs=1)
results = tune(TuneConfig(run=run, max_trials=2, batch_sizes=(32, 64), lr_range=(0.01, 0.1)), Store(sys.argv[1], "m"),
               verbose=0)
try:
    distribute.check_batch("mirrored", 33)
    refused = None
except ConfigError as exc:
    refused = str(exc)
print(json.dumps({"n_train": data.load(run.data).n_train, "summaries": [r.summary for r in results],
                  "replicas": distribute.check_batch("mirrored", 32), "refused": refused}))
"""


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """What a search under the mirrored strategy on two logical CPUs reported, run once in a process of its own
    (the logical devices must be set before TensorFlow starts)."""
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path_factory.mktemp("mirrored"))], check=False,
                          capture_output=True, text=True, timeout=240, env=ENV, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_on_two_cpus_trains_the_global_batch(mirrored):
    report = mirrored
    assert len(report["summaries"]) == 2
    for summary in report["summaries"]:
        assert summary["status"] == "ok" and summary["strategy"] == "mirrored" and summary["replicas"] == 2
        # Every step took batch_size examples in all (each replica half): the batch size is the global one.
        assert summary["steps"] == summary["epochs"] * (report["n_train"] // summary["batch_size"])
        assert summary["examples"] == summary["steps"] * summary["batch_size"]


def test_a_batch_that_does_not_split_across_the_replicas_is_a_usage_error(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["refused"] == "batch size 33 does not split across 2 replicas of the mirrored strategy"


def test_the_default_strategy_is_one_replica_made_once_and_an_unknown_one_is_a_usage_error():
    assert distribute.check_batch("default", 33) == 1  # one replica: any batch splits
    assert distribute.get_strategy("default") is distribute.get_strategy("default")
    with pytest.raises(ConfigError, match="strategy must be one of .*got 'parameter_server'"):
        distribute.get_strategy("parameter_server")
