"""A sweep killed with SIGKILL at any moment, then run again, ends as if it had never been interrupted."""

import json
import random
import signal
import subprocess
import sys
import time

import pandas as pd

from kerasbatch.cli.app import run as cli

TIMING = {"train_seconds", "seconds_to_target", "samples_per_second", "step_time_median", "step_time_p90",
          "step_time_median_mean", "step_time_p90_mean", "eval_seconds"}


def sweep_command(out, study):
    return [sys.executable, "-m", "kerasbatch", "sweep", "--dataset", "dots", "--dots-samples", "600",
            "--model", "mlp", "--widths", "16", "--batch-sizes", "16,32,64", "--epochs", "3",
            "--precision", "float32", "--diagnostics", "gns,weight_distance", "--diagnostics-every", "4",
            "--quiet", "--out", str(out), "--study", study]


def finished_runs(study_dir):
    runs = {}
    for summary_path in sorted(study_dir.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        history = pd.read_csv(summary_path.parent / "history.csv")
        assert (summary_path.parent / "model.keras").is_file()
        runs[summary_path.parent.name] = (
            {k: v for k, v in summary.items() if k not in TIMING},
            history[["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "steps", "gns", "weight_distance"]],
        )
    return runs


def test_killed_sweep_resumes_to_the_same_runs(tmp_path):
    rng = random.Random(7)
    for _ in range(4):
        process = subprocess.Popen(sweep_command(tmp_path, "killed"), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(5.0, 13.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    resumed = subprocess.Popen(sweep_command(tmp_path, "killed"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The same sweep never interrupted: only the killed one needs processes of its own, so the reference
    # runs here, through the same command line, while the last of them resumes.
    assert cli(sweep_command(tmp_path, "whole")[3:]) == 0
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-3000:]

    whole, killed = finished_runs(tmp_path / "whole"), finished_runs(tmp_path / "killed")
    assert sorted(whole) == sorted(killed) == ["bs16", "bs32", "bs64"]
    for run_id in whole:
        assert killed[run_id][0] == whole[run_id][0]
        pd.testing.assert_frame_equal(killed[run_id][1], whole[run_id][1])
    leftovers = [p for p in (tmp_path / "killed").rglob("*") if ".tmp" in p.name]
    assert leftovers == []
