"""The README's notebook snippet runs as written: suggest and sweep from a build function and numpy arrays."""

import json
import re
from pathlib import Path

import keras
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def notebook_snippet() -> str:
    section = README.read_text().split("## From a notebook", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_notebook_snippet_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path / "cache"))
    scope: dict = {}
    exec(compile(notebook_snippet(), "README.md", "exec"), scope)
    suggestion, table = scope["suggestion"], scope["table"]
    assert suggestion.batch_size in (32, 128, 512) and suggestion.noise_scale > 0
    assert isinstance(suggestion.table, pd.DataFrame) and list(suggestion.table["batch_size"]) == [32, 128, 512]
    assert isinstance(table, pd.DataFrame) and set(table["status"]) == {"ok"}
    assert sorted(table["batch_size"]) == sorted({32, suggestion.batch_size})
    # The study names the function and the data; its runs hold the arrays' fingerprint as the dataset.
    (study,) = [p for p in (tmp_path / "runs").iterdir() if p.name.endswith("-sweep")]
    assert study.name.startswith("build_model-")
    assert all(name.startswith("arrays:") for name in table["dataset"])
    recorded = json.loads(next(study.glob("*/summary.json")).read_text())["data"]
    # 1500 examples given with their own validation set: 20 % held out as test, 1200 trained on.
    assert recorded["x_train_shape"] == [1200, 64] and recorded["x_val_shape"] == [297, 64]
    assert recorded["num_classes"] == 10 and recorded["name"] == table["dataset"][0]

    # The same cell again reuses every finished run.
    before = {p: p.stat().st_mtime_ns for p in study.glob("*/summary.json")}
    exec(compile(notebook_snippet().split("suggestion = ")[0] + "table = kerasbatch.sweep(build_model, x[:1500], "
                 "y[:1500], validation_data=(x[1500:], y[1500:]), batch_sizes=(32,), epochs=3, out='runs')",
                 "README.md", "exec"), scope)
    assert {p: p.stat().st_mtime_ns for p in study.glob("*/summary.json")} == before


def test_sweep_takes_a_tf_data_dataset_as_it_takes_the_same_arrays(tmp_path):
    import tensorflow as tf
    from sklearn.datasets import load_digits

    import kerasbatch

    digits = load_digits()
    x, y = (digits.data[:600] / 16.0).astype("float32"), digits.target[:600]

    def build_model():
        inputs = keras.Input(shape=(64,))
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))

    train = tf.data.Dataset.from_tensor_slices((x[:500], y[:500])).batch(64)  # batched, as Keras users have it
    val = tf.data.Dataset.from_tensor_slices((x[500:], y[500:]))             # and one example at a time
    table = kerasbatch.sweep(build_model, train, validation_data=val, batch_sizes=(32, 64), epochs=1,
                             out=tmp_path, progress=False)
    assert table["status"].tolist() == ["ok", "ok"]
    # The same examples as arrays are the same data set: the second call finds the runs done.
    again = kerasbatch.sweep(build_model, x[:500], y[:500], validation_data=(x[500:], y[500:]), batch_sizes=(32, 64),
                             epochs=1, out=tmp_path, progress=False)
    assert again["run_id"].tolist() == table["run_id"].tolist() and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(kerasbatch.KerasbatchError, match="infinite"):
        kerasbatch.sweep(build_model, train.repeat(), batch_sizes=(32,), out=tmp_path, progress=False)
