"""Export: real tiny runs exported, reloaded with TensorFlow and compared with the trained Keras model."""

import json
import shutil
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasbatch import export
from kerasbatch.reports import best as ranking
from kerasbatch.training import train
from kerasbatch.errors import KerasbatchError
from kerasbatch.training.precision import PrecisionWarning
from kerasbatch.store import Store, read_json, write_json

from tests.conftest import dots_run


def _train(root, precision):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)  # float16 on a CPU is slow, and we know
        return train.run(dots_run(epochs=1, precision=precision, diagnostics=()), Store(root, "s"), verbose=0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished 1-epoch float32 dots run: ``<tmp>/s/bs32``."""
    return _train(tmp_path_factory.mktemp("runs"), "float32").path


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    return export.export_run(run_dir, tmp_path_factory.mktemp("exports") / "dots")


@pytest.fixture(scope="module")
def val_x(run_dir):
    return export.validation_batch(export.read_run(run_dir)[0])


def _serve(saved_model_dir, x):
    """Predictions of the SavedModel's ``serving_default``, as TF Serving would compute them."""
    signature = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    (name,) = signature.structured_input_signature[1]
    return next(iter(signature(**{name: tf.constant(x)}).values())).numpy()


def _keras_predict(path, x):
    return keras.saving.load_model(path, compile=False).predict(x, verbose=0)


def _computes_in_float16(saved_model_dir):
    """True when any op the signature runs (its nested functions included) is typed float16."""
    graph_def = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"].graph.as_graph_def()
    nodes = [*graph_def.node, *(node for f in graph_def.library.function for node in f.node_def)]
    return any(attr.type == tf.float16.as_datatype_enum for node in nodes for attr in node.attr.values())


def test_export_writes_saved_model_keras_file_and_card_and_no_leftovers(exported):
    assert (exported / "saved_model" / "saved_model.pb").is_file()
    assert (exported / "model.keras").is_file() and (exported / "model_card.json").is_file()
    assert [p.name for p in exported.parent.iterdir()] == ["dots"]


def test_saved_model_predicts_what_the_trained_keras_model_predicts(exported, run_dir, val_x):
    assert val_x.shape == (48, 2) and val_x.dtype == np.float32  # 600 dots: 48 held out for validation
    trained = _keras_predict(run_dir / "model.keras", val_x)
    served = _serve(exported / "saved_model", val_x)
    assert served.shape == trained.shape == (48, 2)
    np.testing.assert_allclose(served, trained, atol=1e-5, rtol=0)
    np.testing.assert_allclose(_keras_predict(exported / "model.keras", val_x), trained, atol=1e-6, rtol=0)


def test_saved_model_cli_lists_serving_default(exported):
    cli = shutil.which("saved_model_cli")
    command = [cli] if cli else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    shown = subprocess.run(command + ["show", "--dir", str(exported / "saved_model"), "--all"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "signature_def['serving_default']" in shown.stdout
    assert "DT_FLOAT" in shown.stdout and "(-1, 2)" in shown.stdout


def test_model_card_describes_the_run_and_the_check(exported, run_dir):
    card = json.loads((exported / "model_card.json").read_text())
    summary = read_json(run_dir / "summary.json")
    assert card["source_run"] == str(run_dir.resolve())
    assert (card["study"], card["run_id"], card["dataset"]) == ("s", "bs32", "dots")
    assert card["model"] == {"name": "mlp", "widths": [16], "dropout": 0.0}
    assert card["batch_size"] == 32 and card["learning_rate"] == pytest.approx(0.05)
    assert card["precision"] == card["export_dtype"] == "float32"
    assert card["epochs"] == card["weights_epoch"] == summary["epochs"] == 1 and card["weights"] == "final epoch"
    for key in ("best_val_accuracy", "final_val_accuracy", "test_accuracy", "seconds_to_target"):
        assert card["metrics"][key] == summary.get(key)
    assert 0.5 < card["metrics"]["best_val_accuracy"] <= 1
    assert set(card["noise_scale"]) == {"gns", "gns_mean"}
    assert card["versions"] == {"kerasbatch": "0.1.0", "tensorflow": tf.__version__, "keras": keras.__version__}
    check = card["verification"]
    assert check["passed"] and check["examples"] == 48 and check["tolerance"] == 1e-5
    assert 0 <= check["max_abs_difference"] <= 1e-5


def test_default_target_refuses_to_overwrite_and_force_replaces_only_a_complete_export(
        run_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = export.export_run(run_dir)
    assert target == export.EXPORT_ROOT / "s-bs32" and (tmp_path / target / "model_card.json").is_file()
    (target / "marker").write_text("old export")
    with pytest.raises(KerasbatchError, match="already exists"):
        export.export_run(run_dir)
    assert (target / "marker").read_text() == "old export"

    def broken(*args):
        raise KerasbatchError("export check failed: injected")

    monkeypatch.setattr(export, "verify", broken)
    with pytest.raises(KerasbatchError, match="injected"):
        export.export_run(run_dir, force=True)
    assert (target / "marker").read_text() == "old export"  # a failed replacement keeps the old one
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert export.export_run(run_dir, force=True) == target
    assert not (target / "marker").exists() and (target / "saved_model" / "saved_model.pb").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["s-bs32"]


def test_force_never_replaces_a_folder_that_is_not_an_export(run_dir, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(KerasbatchError, match="not a kerasbatch export"):
        export.export_run(run_dir, tmp_path, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("breaks", ["keras_export", "verification"])
def test_a_failed_export_leaves_nothing_behind(run_dir, tmp_path, monkeypatch, breaks):
    def fail(*args, **kwargs):
        raise RuntimeError("injected failure")

    if breaks == "keras_export":
        monkeypatch.setattr(keras.Model, "export", fail)
    else:
        monkeypatch.setattr(export, "verify", fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        export.export_run(run_dir, tmp_path / "exports" / "m")
    assert list((tmp_path / "exports").iterdir()) == []


def test_verification_fails_loudly_when_predictions_differ(exported, run_dir, val_x):
    other = export.load_model(run_dir / "model.keras")
    other.set_weights([w + 0.5 for w in other.get_weights()])
    with pytest.raises(KerasbatchError, match="differ from the Keras model's by"):
        export.verify(exported / "saved_model", other, val_x, 1e-5)


def test_runs_without_a_trained_model_are_refused(run_dir, tmp_path):
    failed = tmp_path / "s" / "bs32"
    shutil.copytree(run_dir, failed)
    (failed / "model.keras").unlink()
    with pytest.raises(KerasbatchError, match="has no model.keras"):
        export.export_run(failed, tmp_path / "out")
    write_json(failed / "summary.json", {**read_json(failed / "summary.json"), "status": "diverged"})
    with pytest.raises(KerasbatchError, match="status 'diverged'"):
        export.export_run(failed, tmp_path / "out")
    with pytest.raises(KerasbatchError, match="not a finished run"):
        export.export_run(tmp_path, tmp_path / "out")
    with pytest.raises(KerasbatchError, match="dtype must be float32"):
        export.export_run(run_dir, tmp_path / "out", dtype="float16")
    assert not (tmp_path / "out").exists()


def test_float32_export_of_a_mixed_float16_run_serves_float32_close_to_the_trained_model(tmp_path, val_x):
    mixed_run = _train(tmp_path / "runs", "mixed_float16").path
    as_trained = export.export_run(mixed_run, tmp_path / "mixed")
    as_float32 = export.export_run(mixed_run, tmp_path / "float32", dtype="float32")
    assert _computes_in_float16(as_trained / "saved_model")
    assert not _computes_in_float16(as_float32 / "saved_model")
    loaded = tf.saved_model.load(str(as_float32 / "saved_model"))
    assert {v.dtype for v in loaded.variables} == {tf.float32}
    served = _serve(as_float32 / "saved_model", val_x)
    assert served.dtype == np.float32
    trained = _keras_predict(mixed_run / "model.keras", val_x)
    np.testing.assert_allclose(served, trained, atol=1e-2, rtol=0)
    copy = keras.saving.load_model(as_float32 / "model.keras")
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    card = read_json(as_float32 / "model_card.json")
    assert (card["precision"], card["export_dtype"]) == ("mixed_float16", "float32")
    assert card["verification"]["max_abs_difference"] <= 1e-5
    assert 0 <= card["verification"]["trained_model_max_abs_difference"] <= 1e-2
    assert read_json(as_trained / "model_card.json")["export_dtype"] == "mixed_float16"


def test_best_run_of_a_real_digits_sweep_exports_and_serves(digits_sweep, tmp_path):
    store, results = digits_sweep
    best = ranking.best_run(store.study_dir)
    assert best == max(results, key=lambda r: r.summary["best_val_accuracy"]).path
    target = export.export_run(best, tmp_path / "digits")
    x = export.validation_batch(export.read_run(best)[0])
    assert x.shape == (64, 8, 8, 1)
    np.testing.assert_allclose(_serve(target / "saved_model", x), _keras_predict(best / "model.keras", x),
                               atol=1e-5, rtol=0)
