"""Growing the batch where step decay would drop the rate."""

import pandas as pd
import pytest

from kerasbatch.training.schedules.increase import increase_plan


def test_increase_multiplies_the_batch_at_the_step_decays_boundaries_and_hands_the_rest_to_the_rate():
    plan = increase_plan(32, epochs=10, warmup_epochs=2, max_batch=1024)
    # After 2 warm-up epochs, step decay drops the rate at 2 + 0.5*8 = 6 and 2 + 0.75*8 = 8.
    assert [(s.epoch, s.batch_size, s.rate_factor) for s in plan] == [(6, 320, 1.0), (8, 1024, 0.32)]
    assert increase_plan(32, epochs=4, warmup_epochs=0, max_batch=32)[0].rate_factor == pytest.approx(0.1)


def test_increase_multiplies_the_batch_at_the_step_boundaries(increase_run):
    history = pd.read_csv(increase_run.path / "history.csv")
    assert history["batch_size"].tolist() == [32, 32, 320, 320]
    # The rate stays where step decay would drop it x10, until the batch hits max_batch (then x0.1).
    assert history["lr"].tolist() == pytest.approx([0.05, 0.05, 0.05, 0.005], rel=1e-5)
    assert [s["epoch"] for s in increase_run.summary["schedule"]] == [0, 2, 3]
