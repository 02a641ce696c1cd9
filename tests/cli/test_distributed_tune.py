"""A search spread over processes as a user starts it: a chief and two workers, and a chief killed mid-search."""

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.searches import ENV, ROOT, free_port, mtimes, summaries


def tune_command(out: Path, epochs: int = 2) -> list[str]:
    return [sys.executable, "-m", "kerasbatch", "tune", "--dataset", "dots", "--dots-samples", "600", "--model", "mlp",
            "--widths", "16", "--epochs", str(epochs), "--precision", "float32", "--diagnostics", "none",
            "--batch-sizes", "16,32,64", "--lr-range", "0.01,0.5", "--max-trials", "4", "--out", str(out),
            "--study", "shared"]


def start(command, tuner_id: str, port: str, log: Path) -> subprocess.Popen:
    env = {**ENV, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_PORT": port}
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def finish(processes: dict[str, subprocess.Popen], logs: Path, timeout: float) -> dict[str, int]:
    deadline, codes = time.monotonic() + timeout, {}
    try:
        for name, process in processes.items():
            codes[name] = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        states = "\n\n".join(f"== {n} (exit {p.poll()}):\n" + (logs / f"{n}.log").read_text()[-1500:]
                               for n, p in processes.items())
        pytest.fail(f"{name} still running after {timeout} s\n{states}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return codes


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"no {text!r} in {log.name}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)


def start_workers(command, port: str, logs: Path) -> dict[str, subprocess.Popen]:
    # Workers first: they wait for the chief's port instead of racing gRPC's reconnect back-off.
    workers = {name: start(command, name, port, logs / f"{name}.log") for name in ("tuner0", "tuner1")}
    for name in workers:
        wait_for_line(logs / f"{name}.log", "waiting for the chief at 127.0.0.1", timeout=120)
    return workers


def test_a_chief_and_two_workers_share_a_search_and_everyone_exits(tmp_path):
    out, port, command = tmp_path / "runs", free_port(), tune_command(tmp_path / "runs")
    workers = start_workers(command, port, tmp_path)
    started = time.monotonic()
    chief = start(command, "chief", port, tmp_path / "chief.log")
    codes = finish({**workers, "chief": chief}, tmp_path, timeout=150)
    assert codes == {"tuner0": 0, "tuner1": 0, "chief": 0}, (tmp_path / "chief.log").read_text()[-3000:]
    assert time.monotonic() - started < 100

    study = out / "shared"
    found = summaries(study)
    assert sorted(found) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(s["status"] == "ok" for s in found.values())
    by_worker = Counter(s["tuner_id"] for s in found.values())
    assert set(by_worker) == {"tuner0", "tuner1"} and min(by_worker.values()) >= 1
    oracle = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {}  # stock KerasTuner leaves the last trial listed here
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"]
    assert set(oracle["run_times"].values()) == {1}
    chief_log = (tmp_path / "chief.log").read_text()
    assert f"chief on 127.0.0.1:{port}: random search, 0 of 4 trials done" in chief_log
    assert "[trial 4/4] batch " in chief_log

    # A chief started again on the finished study hands out nothing and exits on its own.
    before, started = mtimes(study), time.monotonic()
    again = start(command, "chief", port, tmp_path / "chief2.log")
    assert finish({"chief2": again}, tmp_path, timeout=60) == {"chief2": 0}
    assert time.monotonic() - started < 45
    assert mtimes(study) == before
    again = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert again["end_order"] == oracle["end_order"] and again["run_times"] == oracle["run_times"]
    assert again["ongoing_trials"] == {}
    assert "4 of 4 trials done" in (tmp_path / "chief2.log").read_text()


def test_a_chief_killed_mid_search_resumes_without_running_any_trial_twice(tmp_path):
    # The kill lands as the first trial ends, when the chief is saving: wherever it lands, the
    # restarted chief must load what was saved and finish the search with both workers.
    out, port, command = tmp_path / "runs", free_port(), tune_command(tmp_path / "runs", epochs=10)
    study = out / "shared"
    workers = start_workers(command, port, tmp_path)
    chief = start(command, "chief", port, tmp_path / "chief.log")
    deadline = time.monotonic() + 120
    while not list(study.glob("trial_*/summary.json")):
        assert time.monotonic() < deadline and chief.poll() is None, (tmp_path / "chief.log").read_text()[-3000:]
        time.sleep(0.1)
    chief.kill()
    chief.wait()
    assert len(summaries(study)) < 4  # killed with trials in flight on the workers
    restarted = start(command, "chief", port, tmp_path / "chief2.log")
    codes = finish({**workers, "chief2": restarted}, tmp_path, timeout=150)
    assert codes == {"tuner0": 0, "tuner1": 0, "chief2": 0}, (tmp_path / "chief2.log").read_text()[-3000:]
    found = summaries(study)
    assert sorted(found) == ["trial_0", "trial_1", "trial_2", "trial_3"]
    assert all(s["status"] == "ok" for s in found.values())
    oracle = json.loads((study / "keras_tuner" / "search" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2", "3"] and set(oracle["run_times"].values()) == {1}
    assert oracle["ongoing_trials"] == {}
