import json

import pytest

from kerasbatch.errors import StoreError
from kerasbatch.store import Store, atomic_path, check_writable, write_json


def test_atomic_write_leaves_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "summary.json"
    write_json(target, {"status": "ok"})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"status": "half')
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_json_has_no_nan(tmp_path):
    write_json(tmp_path / "x.json", {"a": float("nan"), "b": [float("inf"), 1.5]})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [None, 1.5]}


def test_run_is_complete_only_with_summary_and_incomplete_runs_are_cleared(tmp_path):
    store = Store(tmp_path, "s")
    folder = store.begin_run("bs32", {"batch_size": 32}, {"batch_size": 32})
    (folder / "history.csv").write_text("epoch\n1\n")
    assert not store.is_complete("bs32") and store.run_ids() == []
    assert store.check_run("bs32", {"batch_size": 32}) is False
    folder = store.begin_run("bs32", {"batch_size": 32}, {"batch_size": 32})
    assert not (folder / "history.csv").exists()
    store.finish_run("bs32", {"status": "ok"})
    assert store.run_ids() == ["bs32"] and store.check_run("bs32", {"batch_size": 32})


def test_finished_run_with_other_settings_is_refused(tmp_path):
    store = Store(tmp_path, "s")
    store.begin_run("bs32", {}, {"optim": {"learning_rate": 0.1}})
    store.finish_run("bs32", {"status": "ok"})
    with pytest.raises(StoreError, match=r"optim.learning_rate: 0.1 → 0.2"):
        store.check_run("bs32", {"optim": {"learning_rate": 0.2}})


def test_study_manifest_guards_kind_and_settings(tmp_path):
    store = Store(tmp_path, "s")
    store.claim_study("sweep", {"epochs": 3})
    store.claim_study("sweep", {"epochs": 3})
    with pytest.raises(StoreError, match="different settings"):
        store.claim_study("sweep", {"epochs": 4})
    with pytest.raises(StoreError, match="is a sweep study"):
        store.claim_study("tune", {"epochs": 3})


def test_check_writable_rejects_a_file_in_the_path(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        check_writable(blocker / "runs" / "study")
    check_writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("run_id", ["..", ".", "", "a/b", "/tmp/x", "plots", "keras_tuner"])
def test_run_ids_stay_inside_the_study(tmp_path, run_id):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(StoreError, match="run id"):
        Store(tmp_path, "s").begin_run(run_id, {}, {})
    assert (tmp_path / "keep.txt").exists()


def test_a_folder_that_is_not_a_run_is_never_cleared(tmp_path):
    (tmp_path / "s" / "bs32").mkdir(parents=True)
    (tmp_path / "s" / "bs32" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a run folder"):
        Store(tmp_path, "s").begin_run("bs32", {}, {})
    assert (tmp_path / "s" / "bs32" / "notes.txt").exists()


def test_unwritable_targets_are_store_errors(tmp_path):
    with pytest.raises(StoreError, match="cannot write"):
        write_json(tmp_path / "missing" / "x.json", {})
    (tmp_path / "folder").mkdir()
    with pytest.raises(StoreError, match="cannot write"):
        write_json(tmp_path / "folder", {})
