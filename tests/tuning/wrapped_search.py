"""A stock KerasTuner random search over a user's HyperModel wrapped in ``BatchSizeAndRate``, as one
process of a chief/worker search runs it (its role from KerasTuner's own environment variables):

    python tests/tuning/wrapped_search.py FOLDER
"""

import json
import os
import sys

import keras
import keras_tuner as kt
import numpy as np

from kerasbatch.tuning import BatchSizeAndRate


class Users(kt.HyperModel):
    def build(self, hp):
        inputs = keras.Input((8,))
        hidden = keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        record = {"tuner": os.environ["KERASTUNER_TUNER_ID"], "batch_size": hp.get("batch_size"),
                  "given": kwargs.get("batch_size"), "rate": float(model.optimizer.learning_rate.numpy()),
                  "searched_rate": hp.get("learning_rate")}
        with open(os.path.join(sys.argv[1], "fits.jsonl"), "a") as log:
            log.write(json.dumps(record) + "\n")
        return model.fit(*args, **kwargs)


if __name__ == "__main__":
    x = np.random.default_rng(0).normal(size=(400, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    search = kt.RandomSearch(BatchSizeAndRate(Users(), batch_sizes=(16, 64), lr_range=(1e-3, 0.1)),
                             objective="val_accuracy", max_trials=3, directory=sys.argv[1], project_name="p", seed=1)
    search.search(x[:300], y[:300], validation_data=(x[300:], y[300:]), epochs=1, verbose=0)
    print("done", flush=True)
