"""Saved models load with plain Keras and TensorFlow, in a process that never imports kerasbatch, and a run
whose batch changed saves a model plain Keras loads."""

import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import keras

from kerasbatch import export
from kerasbatch.training import train
from kerasbatch.config.run import OptimConfig
from kerasbatch.store import Store
from kerasbatch.optim.state import save_model

from tests.conftest import dots_run


# Runs in a fresh interpreter from a folder outside the checkout: nothing here may import kerasbatch.
LOADER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras, tensorflow as tf
    run_model, export_model, saved_model, x_path = sys.argv[1:]
    x = np.load(x_path)
    out = {}
    for name, path in (("run", run_model), ("export", export_model)):
        model = keras.saving.load_model(path)
        out[name] = model.predict(x, verbose=0).tolist()
        out[name + "_optimizer"] = type(model.optimizer).__name__ if model.optimizer is not None else None
        out[name + "_lr"] = float(model.optimizer.learning_rate) if model.optimizer is not None else None
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    (name,) = serve.structured_input_signature[1]
    out["saved_model"] = next(iter(serve(**{name: tf.constant(x)}).values())).numpy().tolist()
    out["kerasbatch_imported"] = any(m == "kerasbatch" or m.startswith("kerasbatch.") for m in sys.modules)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory):
    """A scheduled SGD run (warm-up, then step decay) and its export."""
    root = tmp_path_factory.mktemp("portable")
    optim = OptimConfig(optimizer="sgd", learning_rate=0.05, warmup_epochs=1.0, schedule="step")
    result = train.run(dots_run(epochs=2, optim=optim, diagnostics=()), Store(root, "s"), verbose=0)
    assert result.ok
    return result.path, export.export_run(result.path, root / "export")


def test_run_and_export_load_and_predict_alike_without_kerasbatch(exported_run, tmp_path):
    run_dir, export_dir = exported_run
    x = export.validation_batch(export.read_run(run_dir)[0])
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "load.py"
    script.write_text(LOADER)
    done = subprocess.run([sys.executable, str(script), str(run_dir / "model.keras"), str(export_dir / "model.keras"),
                           str(export_dir / "saved_model"), str(tmp_path / "x.npy")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Could not locate class" not in done.stderr and "Skipping variable loading" not in done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["kerasbatch_imported"] is False
    np.testing.assert_allclose(out["run"], out["saved_model"], atol=1e-5)
    np.testing.assert_allclose(out["export"], out["saved_model"], atol=1e-5)
    assert out["run_optimizer"] == "SGD"
    # dots 600 → 432 training examples, 13 steps an epoch; step decay ends at 1 % of the 0.05 peak.
    assert out["run_lr"] == pytest.approx(0.05 * 0.01, rel=1e-5)


def test_a_run_whose_batch_changed_saves_a_model_plain_keras_loads(increase_run, tmp_path):
    path = tmp_path / "m.keras"
    save_model(increase_run.model, path)
    assert "BatchScaledSchedule" not in zipfile.ZipFile(path).read("config.json").decode()
    loaded = keras.saving.load_model(path)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.005, rel=1e-5)
