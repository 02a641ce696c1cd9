"""A KerasTuner user's own HyperModel gains batch size and learning rate."""

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from kerasbatch.tuning import BatchSizeAndRate, start_at_defaults

X = np.random.default_rng(0).normal(size=(600, 8)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64")


class Recorded(kt.HyperModel):
    """A user's hypermodel with its own hyperparameter and its own fit, which records what it was given."""

    def __init__(self):
        super().__init__()
        self.fits = []

    def build(self, hp):
        inputs = keras.Input((8,))
        hidden = keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, *args, **kwargs):
        first = next(iter(x))[0].shape[0] if isinstance(x, tf.data.Dataset) else kwargs.get("batch_size")
        self.fits.append((hp.get("batch_size"), first, float(model.optimizer.learning_rate.numpy())))
        return model.fit(x, *args, **kwargs)


@pytest.mark.parametrize("tuner", [kt.RandomSearch, kt.BayesianOptimization])
def test_three_trials_each_at_its_batch_and_rate_with_the_users_own_hyperparameter(tmp_path, tuner):
    user = Recorded()
    search = tuner(BatchSizeAndRate(user, batch_sizes=(16, 64), lr_range=(1e-3, 0.1)), objective="val_accuracy",
                   max_trials=3, directory=tmp_path, project_name="p", seed=1)
    search.search(X[:500], Y[:500], validation_data=(X[500:], Y[500:]), epochs=1, verbose=0)
    trials = list(search.oracle.trials.values())
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    assert all({"batch_size", "learning_rate", "units"} <= set(t.hyperparameters.values) for t in trials)
    for (batch, given, rate), trial in zip(user.fits, trials):
        assert given == batch == trial.hyperparameters.values["batch_size"]
        assert rate == pytest.approx(trial.hyperparameters.values["learning_rate"], rel=1e-6)


def test_a_suggestion_is_the_first_trial_and_its_rate_follows_the_batch(tmp_path):
    (tmp_path / "suggestion.json").write_text(json.dumps({"batch_size": 48, "learning_rate": 0.02}))
    user = Recorded()
    wrapped = BatchSizeAndRate(user, batch_sizes=(16, 64), suggestion=tmp_path / "suggestion.json",
                               lr_scaling="linear", base_batch=16)
    search = kt.RandomSearch(wrapped, objective="val_accuracy", max_trials=2, directory=tmp_path, project_name="r")
    start_at_defaults(search.oracle)
    search.search(X[:500], Y[:500], validation_data=(X[500:], Y[500:]), epochs=1, verbose=0)
    assert wrapped.batch_sizes == [16, 48, 64] and user.fits[0][:2] == (48, 48)
    assert user.fits[0][2] == pytest.approx(0.02 * 48 / 16)  # the searched rate, moved to 48 by the linear rule


def test_hyperband_on_a_tf_data_dataset_trains_every_trial_at_its_batch(tmp_path):
    user = Recorded()
    search = kt.Hyperband(BatchSizeAndRate(user, batch_sizes=(16, 64)), objective="val_accuracy", max_epochs=2,
                          directory=tmp_path, project_name="h")
    train = tf.data.Dataset.from_tensor_slices((X[:500], Y[:500])).batch(100)
    search.search(train, validation_data=(X[500:], Y[500:]), verbose=0)
    assert len(user.fits) >= 2 and all(batch == given for batch, given, _ in user.fits)


def test_a_build_that_returns_an_uncompiled_model_or_a_bad_rule_is_refused():
    with pytest.raises(ValueError, match="needs the noise_scale"):
        BatchSizeAndRate(Recorded(), lr_scaling="adam")
    wrapped = BatchSizeAndRate(lambda hp: keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="compiled model"):
        wrapped.build(kt.HyperParameters())


def test_a_chief_and_a_worker_share_a_search_over_the_wrapped_hypermodel(tmp_path):
    import subprocess
    import sys

    from tests.searches import ENV, ROOT, free_port

    script, port = str(ROOT / "tests" / "tuning" / "wrapped_search.py"), free_port()

    def start(tuner_id):
        env = {**ENV, "KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": "127.0.0.1",
               "KERASTUNER_ORACLE_PORT": port}
        return subprocess.Popen([sys.executable, script, str(tmp_path)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    chief = start("chief")
    worker = start("tuner0")
    try:
        worker_out, _ = worker.communicate(timeout=240)
    finally:  # stock KerasTuner's chief polls for the end every 30 s; the oracle saved every trial already
        for process in (chief, worker):
            if process.poll() is None:
                process.kill()
    assert worker.returncode == 0, worker_out[-2000:]
    fits = [json.loads(line) for line in (tmp_path / "fits.jsonl").read_text().splitlines()]
    # The worker trained all three trials, each at its searched batch and rate, with the user's "units".
    assert len(fits) == 3 and {f["tuner"] for f in fits} == {"tuner0"}
    assert all(f["given"] == f["batch_size"] in (16, 64) for f in fits)
    assert all(f["rate"] == pytest.approx(f["searched_rate"], rel=1e-6) for f in fits)
    oracle = json.loads((tmp_path / "p" / "oracle.json").read_text())
    assert {"batch_size", "learning_rate", "units"} <= {h["config"]["name"] for h in oracle["hyperparameters"]["space"]}
