"""A build function handed over in Python becomes a model name."""

import keras

from kerasbatch.models import build_model


def test_a_build_function_handed_over_in_python_becomes_a_model_name(tmp_path, monkeypatch):
    from kerasbatch.models import builders

    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path))

    def build():  # a notebook's habit: no arguments, the model knows its input
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))

    name = builders.register_builder(build)
    assert name.startswith("builder:") and name == builders.register_builder(build)
    assert build_model(name, (3,), 2).output_shape == (None, 2)
    monkeypatch.setattr(builders, "_REGISTERED", {})  # a new process: unpickled from the cache
    assert build_model(name, (3,), 2).output_shape == (None, 2)

    def edited():
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(inputs))

    assert builders.register_builder(edited) != name
