"""The KerasTuner internals kerasbatch relies on are all there, and a missing one is named."""

import keras_tuner as kt
import pytest

from kerasbatch.tuning import internals as tuner_internals


def test_every_keras_tuner_internal_kerasbatch_uses_is_there_in_the_expected_shape():
    gone = tuner_internals.missing()
    assert not gone, (f"keras-tuner {kt.__version__} lacks internals kerasbatch needs (see the pin in setup.py "
                      "and kerasbatch/tuning/internals.py):\n  " + "\n  ".join(gone))


@pytest.mark.parametrize("owner, name, expected", [
    (kt.engine.base_tuner.BaseTuner, "_populate_initial_space", "BaseTuner._populate_initial_space(self)"),
    (kt.Oracle, "_get_oracle_fname", "Oracle state: "),
    (kt.Tuner, "_try_build", "Tuner._try_build(self, hp)"),
])
def test_a_removed_internal_is_named(monkeypatch, owner, name, expected):
    monkeypatch.delattr(owner, name)
    gone = tuner_internals.missing()
    assert len(gone) == 1 and gone[0].startswith(expected)


def test_a_changed_signature_is_named(monkeypatch):
    monkeypatch.setattr(kt.Tuner, "_try_build", lambda self, hp, strategy: None)
    assert tuner_internals.missing() == ["Tuner._try_build(self, hp)"]


def test_the_hooks_reach_the_stock_tuner(tmp_path):
    calls = []

    class Tuner(tuner_internals.TunerHooks, kt.RandomSearch):
        def populate_initial_space(self):
            calls.append("populate")
            super().populate_initial_space()  # the stock one builds the hypermodel to find the space

    def build(hp):
        import keras

        hp.Int("units", 1, 4)
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.get("units"))])

    tuner = Tuner(build, objective="loss", max_trials=1, directory=str(tmp_path), project_name="p")
    assert calls == ["populate"] and [hp.name for hp in tuner.oracle.get_space().space] == ["units"]
    assert tuner.build_for_trial(tuner.oracle.get_space()).count_params() == 3  # 2 inputs x 1 unit + bias
    assert tuner.is_worker() is False and tuner_internals.is_chief() is False


def test_a_save_that_dies_midway_leaves_the_previous_state_file(tmp_path, monkeypatch):
    import os

    path, trial = str(tmp_path / "trial.json"), kt.engine.trial.Trial(kt.HyperParameters(), trial_id="0")
    with tuner_internals.whole_file_saves():
        trial.save(path)
        before = open(path).read()
        trial.status = "COMPLETED"

        def killed(fd):
            raise KeyboardInterrupt("killed while writing")

        monkeypatch.setattr(os, "fsync", killed)
        with pytest.raises(KeyboardInterrupt):
            trial.save(path)
    assert open(path).read() == before and '"RUNNING"' in before
    assert sorted(os.listdir(tmp_path)) == ["trial.json"]
    from keras_tuner.src import utils

    assert utils.save_json.__module__ == "keras_tuner.src.utils"  # given back after the search
