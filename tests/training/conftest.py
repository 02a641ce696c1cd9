"""One finished dots run, shared by the run and summary tests."""

import pytest

from kerasbatch.training import train
from kerasbatch.store import Store

from tests.conftest import dots_run


@pytest.fixture(scope="session")
def dots_result(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("runs"), "dots")
    return train.run(dots_run(epochs=3, target=0.6, diagnostics=()), store, verbose=0)
