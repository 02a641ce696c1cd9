"""A tf.distribute strategy trains the global batch: each replica gets its share."""

import json
import subprocess
import sys

from tests.searches import ENV, ROOT


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerasbatch.data import datasets as data
from kerasbatch.config.commands import TuneConfig
from kerasbatch.store import Store
from kerasbatch.tuning.tune import tune
from tests.conftest import dots_run
run = dots_run(strategy="mirrored", diagnostics=(), epochs=1)
results = tune(TuneConfig(run=run, max_trials=2, batch_sizes=(32, 64), lr_range=(0.01, 0.1)), Store(sys.argv[1], "m"),
               verbose=0)
print(json.dumps({"n_train": data.load(run.data).n_train, "summaries": [r.summary for r in results]}))
"""


def test_mirrored_strategy_on_two_cpus_trains_the_global_batch(tmp_path):
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], check=False, capture_output=True,
                          text=True, timeout=240, env=ENV, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["summaries"]) == 2
    for summary in report["summaries"]:
        assert summary["status"] == "ok" and summary["strategy"] == "mirrored" and summary["replicas"] == 2
        # Every step took batch_size examples in all (each replica half): the batch size is the global one.
        assert summary["steps"] == summary["epochs"] * (report["n_train"] // summary["batch_size"])
        assert summary["examples"] == summary["steps"] * summary["batch_size"]
