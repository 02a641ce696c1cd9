"""The simple models: the mlp's widths and dropout, the cnn's dropout."""

import keras

from kerasbatch.config.run import ModelConfig
from kerasbatch.models import build_model

from tests.models.conftest import IMAGE_SHAPE


def test_mlp_uses_widths_and_dropout():
    model = build_model(ModelConfig(name="mlp", widths=(16, 8), dropout=0.25), (2,), 3)
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.rate for layer in dropouts] == [0.25, 0.25]
    # (2*16 + 16) + (16*8 + 8) + (8*3 + 3)
    assert model.count_params() == 48 + 136 + 27


def test_cnn_has_dropout_only_when_asked(built_models):
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in built_models["cnn"].layers)
    model = build_model(ModelConfig(name="cnn", dropout=0.5), IMAGE_SHAPE, 10)
    assert model.get_layer("dropout").rate == 0.5
