"""Callbacks that live across several fits begin once and end once."""

import keras
import numpy as np

from kerasbatch.training.continued import Continued


def test_continued_callbacks_begin_once_and_end_once_across_fits():
    calls = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            calls.append("begin")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(epoch)

        def on_train_end(self, logs=None):
            calls.append("end")

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    continued = Continued([Spy()])
    model.fit(x, y, batch_size=4, epochs=1, callbacks=[continued], verbose=0)
    model.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, callbacks=[continued], verbose=0)
    continued.finish()
    assert calls == ["begin", 0, 1, "end"]
