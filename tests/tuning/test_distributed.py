"""A search that survives restarts: an interrupted trial finished, a half-saved state repaired, a restarted
chief that keeps its workers' trials; the distribution roles and the chief's port."""

import json
import os
import shutil
import time

import pytest

from kerasbatch.tuning import distributed as tune_distributed, internals as tuner_internals
from kerasbatch.errors import ConfigError, KerasbatchError
from kerasbatch.store import Store
from kerasbatch.tuning.tune import tune
from kerasbatch.tuning.tuners import load_tuner

from tests.searches import free_port, mtimes, search


def test_a_rerun_finishes_an_interrupted_trial_and_never_repeats_an_ended_one(random_study, tmp_path):
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    store, project = Store(tmp_path, "random"), tmp_path / "random" / "keras_tuner" / "search"
    oracle_path = project / "oracle.json"
    oracle = json.loads(oracle_path.read_text())
    # What stock KerasTuner's chief leaves behind: the last trial ended, yet still listed as ongoing.
    oracle["ongoing_trials"] = {"tuner1": "2"}
    oracle_path.write_text(json.dumps(oracle))
    before = mtimes(store.study_dir)
    results = tune(search(), store, verbose=0)
    assert all(r.skipped for r in results) and mtimes(store.study_dir) == before
    assert json.loads(oracle_path.read_text())["end_order"] == ["0", "1", "2"]

    # A process killed inside trial 1: KerasTuner lists it as running, the run folder has no summary.
    trial_path = project / "trial_1" / "trial.json"
    trial = json.loads(trial_path.read_text())
    trial.update(status="RUNNING", score=None, metrics={"metrics": {}})
    trial_path.write_text(json.dumps(trial))
    oracle = json.loads(oracle_path.read_text())
    oracle.update(ongoing_trials={"tuner0": "1"}, end_order=["0", "2"])
    oracle_path.write_text(json.dumps(oracle))
    (store.run_dir("trial_1") / "summary.json").unlink()
    results = tune(search(), store, verbose=0)
    assert [r.run_id for r in results if not r.skipped] == ["trial_1"]
    assert {k: v for k, v in mtimes(store.study_dir).items() if k != "trial_1"} == \
        {k: v for k, v in before.items() if k != "trial_1"}
    reloaded = load_tuner(store.study_dir).oracle
    assert reloaded.trials["1"].status == "COMPLETED" and reloaded.end_order == ["0", "2", "1"]
    assert reloaded.trials["1"].hyperparameters.values == trial["hyperparameters"]["values"]


def test_a_rerun_repairs_a_state_saved_halfway_by_a_killed_process(random_study, tmp_path):
    # KerasTuner saves a trial's file, then oracle.json; a process killed in between left one of these.
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    store, project = Store(tmp_path, "random"), tmp_path / "random" / "keras_tuner" / "search"
    oracle_path, trial_path = project / "oracle.json", project / "trial_2" / "trial.json"
    saved_oracle, saved_trial = json.loads(oracle_path.read_text()), json.loads(trial_path.read_text())
    before = mtimes(store.study_dir)

    # Trial 2 ended on file, but oracle.json still lists it running and not in end_order: it is ended once.
    oracle = {**saved_oracle, "ongoing_trials": {"tuner0": "2"}, "end_order": ["0", "1"]}
    oracle["run_times"] = {k: v for k, v in oracle["run_times"].items() if k != "2"}
    oracle_path.write_text(json.dumps(oracle))
    results = tune(search(), store, verbose=0)
    assert all(r.skipped for r in results) and mtimes(store.study_dir) == before
    reloaded = load_tuner(store.study_dir).oracle
    assert reloaded.end_order == ["0", "1", "2"] and reloaded.trials["2"].status == "COMPLETED"

    # Trial 2 created on file but never in oracle.json (so never handed out): it is created and run anew.
    oracle = {**saved_oracle, "start_order": ["0", "1"], "end_order": ["0", "1"], "ongoing_trials": {}}
    oracle["run_times"] = {k: v for k, v in oracle["run_times"].items() if k != "2"}
    oracle_path.write_text(json.dumps(oracle))
    trial_path.write_text(json.dumps({**saved_trial, "status": "RUNNING", "score": None, "metrics": {"metrics": {}}}))
    shutil.rmtree(store.run_dir("trial_2"))
    results = tune(search(), store, verbose=0)
    assert [(r.run_id, r.skipped, r.ok) for r in results] == [("trial_0", True, True), ("trial_1", True, True),
                                                                ("trial_2", False, True)]
    assert load_tuner(store.study_dir).oracle.end_order == ["0", "1", "2"]


def test_a_restarted_chief_waits_for_the_worker_whose_trial_it_kept(random_study, tmp_path):
    shutil.copytree(random_study[0].study_dir, tmp_path / "random")
    oracle_path = tmp_path / "random" / "keras_tuner" / "search" / "oracle.json"
    oracle = json.loads(oracle_path.read_text())
    oracle.update(ongoing_trials={"tuner1": "2"}, end_order=["0", "1"])  # killed while tuner1 trained trial 2
    oracle_path.write_text(json.dumps(oracle))
    chief = load_tuner(tmp_path / "random").oracle
    chief.verbose, chief.max_trials = 0, 3
    tune_distributed.repair_reloaded_oracle(chief, keep_running=True)  # as in a chief's reload
    assert {k: t.trial_id for k, t in chief.ongoing_trials.items()} == {"tuner1": "2"}
    trial = chief.trials["2"]
    trial.status = "COMPLETED"  # tuner1 ends it, then asks for the next trial
    chief.end_trial(trial)
    # Not done before tuner1 is told that the search is over, or it would ask a chief that has exited.
    assert not tuner_internals.chief_idle(chief)
    assert chief.create_trial("tuner1").status == "STOPPED"
    assert tuner_internals.chief_idle(chief) and chief.end_order == ["0", "1", "2"]
    assert chief.trials["2"].score == pytest.approx(random_study[1][2].summary["best_val_accuracy"])


def test_distribution_roles_come_from_keras_tuners_variables(monkeypatch):
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert tune_distributed.role() == "solo"
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    with pytest.raises(ConfigError, match="KERASTUNER_TUNER_ID"):
        tune_distributed.role()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert tune_distributed.role() == "worker"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    with tune_distributed.environment() as role:
        assert role == "chief" and os.environ["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
    assert "KERASTUNER_ORACLE_IP" not in os.environ
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", free_port())  # nobody listens there
    started = time.perf_counter()
    with pytest.raises(KerasbatchError, match="start the chief first"):
        tune_distributed.wait_for_chief(timeout=1.0, poll=0.2)
    assert time.perf_counter() - started < 5.0


def test_a_second_chief_on_a_taken_port_fails_before_touching_the_study(random_study, tmp_path, monkeypatch):
    import grpc
    from concurrent import futures

    port = free_port()
    first = grpc.server(futures.ThreadPoolExecutor(max_workers=1))  # like a stock KerasTuner chief: SO_REUSEPORT on
    first.add_insecure_port(f"127.0.0.1:{port}")
    first.start()
    try:
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", port)
        with pytest.raises(KerasbatchError, match="port is in use"):
            tune_distributed.serve_chief(None, finished=lambda: True)
        shutil.copytree(random_study[0].study_dir, tmp_path / "random")
        store, before = Store(tmp_path, "random"), mtimes(tmp_path / "random")
        with pytest.raises(KerasbatchError, match="port is in use"):
            tune(search(overwrite=True), store, verbose=0)
        assert mtimes(store.study_dir) == before
        assert (store.study_dir / "keras_tuner" / "search" / "oracle.json").is_file()
    finally:
        first.stop(0)
