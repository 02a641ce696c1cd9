"""Synthetic study folders shared by the figure and report tests (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kerasbatch.reports.plots import figures as plots

from tests.study_factory import make_study


@pytest.fixture(scope="session")
def sweep(tmp_path_factory) -> Path:
    return make_study(tmp_path_factory.mktemp("out"), "sweep")


@pytest.fixture
def without_figures(monkeypatch):
    """For report tests about text only: drawing is the slow part and is tested on its own."""
    monkeypatch.setattr(plots, "plot_study", lambda *args, **kwargs: [])
