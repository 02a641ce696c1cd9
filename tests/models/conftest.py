"""Every built-in model, built once."""

import pytest

from kerasbatch.models import MODEL_NAMES, build_model


IMAGE_SHAPE = (8, 8, 1)


@pytest.fixture(scope="session")
def built_models():
    """Every built-in model, built once on tiny 8×8×1 images with 10 classes."""
    return {name: build_model(name, IMAGE_SHAPE, 10) for name in MODEL_NAMES}
