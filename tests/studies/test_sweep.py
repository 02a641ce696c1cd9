"""A sweep: one run per batch size, every other setting shared, and a run that diverges does not stop it."""

import json

from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import OptimConfig
from kerasbatch.store import Store
from kerasbatch.studies.sweep import sweep

from tests.conftest import dots_run


def test_divergence_is_recorded_and_the_sweep_goes_on(tmp_path):
    # A rate this large sends the loss to infinity within a few steps at the larger batch (lr scales with it).
    run = dots_run(epochs=2, diagnostics=(), optim=OptimConfig(learning_rate=1e4, momentum=0.9))
    results = sweep(SweepConfig(run=run, batch_sizes=(32, 64)), Store(tmp_path, "s"), verbose=0)
    assert [r.status for r in results] == ["diverged", "diverged"]
    summary = json.loads((results[0].path / "summary.json").read_text())
    assert summary["diverged_at_step"] >= 1 and "NaN" in summary["error"]
    assert not (results[0].path / "model.keras").exists()


def test_sweep_runs_share_every_setting_but_the_batch_size(digits_sweep):
    store, results = digits_sweep
    configs = [store.read_config(r.run_id) for r in results]
    assert [c.pop("batch_size") for c in configs] == [32, 256]
    assert configs[0] == configs[1]
    assert [r.run_id for r in results] == ["bs32", "bs256"]
