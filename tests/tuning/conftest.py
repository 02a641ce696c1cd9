"""One random search, run once and read (or copied) by the search tests."""

import pytest

from kerasbatch.studies.progress import StudyProgress
from kerasbatch.store import Store
from kerasbatch.tuning.tune import tune

from tests.searches import search


@pytest.fixture(scope="session")
def random_study(tmp_path_factory):
    store, lines = Store(tmp_path_factory.mktemp("runs"), "random"), []
    results = tune(search(), store, progress=StudyProgress(3, live=False, epoch_lines=False, write=lines.append),
                   verbose=0)
    return store, results, lines
