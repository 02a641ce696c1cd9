"""Batch schedules: the policies on synthetic numbers, and real runs whose batch changes in mid-training."""

import json
import zipfile

import keras
import numpy as np
import pandas as pd
import pytest

from kerasbatch.training import train
from kerasbatch.training.schedules.adaptive import AdaptivePolicy, goodput
from kerasbatch.training.schedules.increase import increase_plan
from kerasbatch.training.schedules.plan import default_max_batch
from kerasbatch.cli.app import run as cli
from kerasbatch.config.commands import SweepConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.errors import ConfigError
from kerasbatch.optim.schedules import BatchScaledSchedule, WarmupSchedule
from kerasbatch.optim.state import save_model
from kerasbatch.training.continued import Continued
from kerasbatch.store import Store


def linear_step_time(fixed=0.010, per_example=0.0001):
    return lambda b: fixed + per_example * b


# --- the adaptive policy, on synthetic step times and noise scales ---

def test_adaptive_choice_is_the_best_goodput_among_its_candidates():
    policy, step_time = AdaptivePolicy(max_batch=4096, min_gain=1.0), linear_step_time()
    for current, noise in [(32, 50.0), (128, 300.0), (512, 5000.0), (256, 40.0)]:
        chosen = policy.choose(current, noise, step_time, base_batch=32).batch_size
        scores = {b: goodput(b / step_time(b), noise, b, 32) for b in policy.candidates(current)}
        assert scores[chosen] == pytest.approx(max(scores.values()))


def test_the_batch_at_most_doubles_or_halves_and_stays_a_multiple_of_eight_under_the_cap():
    policy = AdaptivePolicy(max_batch=100)
    assert policy.candidates(32) == [16, 24, 32, 40, 48, 56, 64]
    assert max(policy.candidates(64)) == 96  # the cap, rounded down to a multiple of 8
    # Unlimited, goodput would pick the largest size at a huge noise scale: a switch takes it to 2x only.
    big = AdaptivePolicy(max_batch=4096).choose(32, 1e6, linear_step_time(), base_batch=32)
    assert big.batch_size == 64 and big.gain > 1.5


def test_a_gain_below_the_threshold_keeps_the_batch():
    step_time = linear_step_time()
    gain = AdaptivePolicy(max_batch=4096, min_gain=1.0).choose(64, 130.0, step_time, base_batch=32).gain
    assert 1.0 < gain < 1.3
    stay = AdaptivePolicy(max_batch=4096, min_gain=1.3).choose(64, 130.0, step_time, base_batch=32)
    assert stay.batch_size == 64 and stay.gain == pytest.approx(gain) and "below" in stay.reason
    move = AdaptivePolicy(max_batch=4096, min_gain=gain * 0.99).choose(64, 130.0, step_time, base_batch=32)
    assert move.batch_size != 64


def test_a_small_noise_scale_shrinks_the_batch_and_no_noise_scale_keeps_it():
    # Step time proportional to the batch: throughput is flat, so only efficiency counts.
    shrink = AdaptivePolicy(max_batch=4096).choose(256, 4.0, lambda b: 0.001 * b, base_batch=32)
    assert shrink.batch_size == 128
    for missing in (float("nan"), 0.0, None):
        assert AdaptivePolicy(max_batch=4096).choose(64, missing, linear_step_time(), base_batch=32).batch_size == 64


def test_increase_multiplies_the_batch_at_the_step_decays_boundaries_and_hands_the_rest_to_the_rate():
    plan = increase_plan(32, epochs=10, warmup_epochs=2, max_batch=1024)
    # After 2 warm-up epochs, step decay drops the rate at 2 + 0.5*8 = 6 and 2 + 0.75*8 = 8.
    assert [(s.epoch, s.batch_size, s.rate_factor) for s in plan] == [(6, 320, 1.0), (8, 1024, 0.32)]
    assert increase_plan(32, epochs=4, warmup_epochs=0, max_batch=32)[0].rate_factor == pytest.approx(0.1)


def test_default_cap():
    assert default_max_batch(1293) == 160  # at least 8 steps per epoch, a multiple of 8
    assert default_max_batch(100_000, profiled_max=2048) == 2048


def test_batch_scaled_schedule_follows_examples_and_scales_the_rate():
    base = WarmupSchedule(peak_lr=0.1, total_steps=100, warmup_steps=20, start_lr=0.0)
    schedule = BatchScaledSchedule(base, base_batch=32)
    assert float(schedule(10)) == pytest.approx(0.05)
    schedule.switch(step=10, batch_size=64, factor=2.0)
    # Step 15 at batch 64 has seen as many examples as step 20 at batch 32: the end of warm-up.
    assert float(schedule(15)) == pytest.approx(0.2)
    again = BatchScaledSchedule.from_config(schedule.get_config())
    assert float(again(15)) == pytest.approx(0.2)


def test_batch_schedule_settings_are_checked():
    with pytest.raises(ConfigError, match="gns"):
        RunConfig(batch_schedule="adaptive", diagnostics="none")
    with pytest.raises(ConfigError, match="schedule step"):
        RunConfig(batch_schedule="increase")
    with pytest.raises(ConfigError, match="max_batch"):
        RunConfig(batch_size=64, max_batch=32)


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


# --- real runs ---

DIGITS = dict(data=DataConfig(dataset="digits"), model=ModelConfig(name="mlp"), precision="float32")


@pytest.fixture(scope="module")
def adaptive_cli_run(tmp_path_factory):
    """Acceptance 1, through the command line as a user types it."""
    out = tmp_path_factory.mktemp("runs")
    code = cli(["train", "--dataset", "digits", "--model", "mlp", "--batch-size", "32", "--batch-schedule",
                "adaptive", "--epochs", "6", "--out", str(out), "--study", "s", "--quiet"])
    folder = out / "s" / "adaptive_bs32"
    return code, pd.read_csv(folder / "history.csv"), json.loads((folder / "summary.json").read_text())


def test_adaptive_train_from_the_command_line_changes_the_batch_and_logs_the_rate(adaptive_cli_run):
    code, history, summary = adaptive_cli_run
    assert code == 0 and summary["status"] == "ok"
    assert history["batch_size"].iloc[0] == 32 and history["batch_size"].nunique() > 1
    assert history["lr"].notna().all() and len(history) == 6
    # Examples are counted at each epoch's own batch size.
    per_epoch = history["steps"].diff().fillna(history["steps"].iloc[0]) * history["batch_size"]
    assert history["examples"].tolist() == per_epoch.cumsum().astype(int).tolist()
    switches = summary["schedule"][1:]
    assert switches and all(s["batch_size"] <= 2 * p["batch_size"] for p, s in zip(summary["schedule"], switches))
    assert summary["final_batch_size"] == history["batch_size"].iloc[-1]
    # The rate moves with the batch (the noise-scale rule): an epoch's rate is its segment's.
    for entry in switches:
        assert history["lr"].iloc[entry["epoch"]] == pytest.approx(entry["learning_rate"], rel=1e-5)
    assert summary["step_time_source"] == "on-the-fly" and summary["max_batch"] == 160


def test_one_trace_of_the_train_step_serves_every_batch_size(adaptive_cli_run):
    _, history, summary = adaptive_cli_run
    assert history["batch_size"].nunique() > 1 and summary["train_traces"] == 1


@pytest.fixture(scope="module")
def increase_run(tmp_path_factory):
    config = RunConfig(**DIGITS, batch_size=32, epochs=4, batch_schedule="increase", max_batch=320,
                       optim=OptimConfig(schedule="step", learning_rate=0.05), diagnostics="none")
    return train.run(config, Store(tmp_path_factory.mktemp("runs"), "inc"), verbose=0)


def test_increase_multiplies_the_batch_at_the_step_boundaries(increase_run):
    history = pd.read_csv(increase_run.path / "history.csv")
    assert history["batch_size"].tolist() == [32, 32, 320, 320]
    # The rate stays where step decay would drop it x10, until the batch hits max_batch (then x0.1).
    assert history["lr"].tolist() == pytest.approx([0.05, 0.05, 0.05, 0.005], rel=1e-5)
    assert [s["epoch"] for s in increase_run.summary["schedule"]] == [0, 2, 3]


def test_model_and_optimizer_state_survive_a_switch(increase_run):
    history = pd.read_csv(increase_run.path / "history.csv")
    model = increase_run.model
    # One optimizer throughout: its step count is the whole run's, not the last segment's.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == history["steps"].iloc[-1] == 2 * 40 + 2 * 4
    # The loss goes on from where it was: no jump back towards the untrained loss (about 2.3).
    assert history["loss"].iloc[2] < 0.5 * history["loss"].iloc[0]
    assert history["val_loss"].iloc[2] <= history["val_loss"].iloc[1] * 1.05
    assert increase_run.summary["train_traces"] == 1


def test_a_run_whose_batch_changed_saves_a_model_plain_keras_loads(increase_run, tmp_path):
    path = tmp_path / "m.keras"
    save_model(increase_run.model, path)
    assert "BatchScaledSchedule" not in zipfile.ZipFile(path).read("config.json").decode()
    loaded = keras.saving.load_model(path)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.005, rel=1e-5)


def test_a_sweep_trains_the_schedule_beside_the_fixed_sizes():
    sweep = SweepConfig(run=RunConfig(batch_schedule="adaptive"), batch_sizes=(256, 32, 64))
    runs = sweep.runs()
    assert [(r.batch_schedule, r.batch_size, r.max_batch) for r in runs] == [
        ("fixed", 32, None), ("fixed", 64, None), ("fixed", 256, None), ("adaptive", 32, 256)]
    assert [train.run_id_for(r) for r in runs] == ["bs32", "bs64", "bs256", "adaptive_bs32"]


def test_the_study_figures_show_the_batch_over_training(increase_run):
    from kerasbatch.reports.plots.figures import build_figures

    figure = build_figures(increase_run.path.parent)["batch_schedule"]
    batch_axis = figure.axes[0]
    assert batch_axis.get_lines()[0].get_ydata().tolist() == [32, 32, 320, 320]


def test_step_evaluation_keeps_its_examples_between_evaluations_across_a_switch(monkeypatch):
    from kerasbatch.callbacks import step_evaluation

    class Model:
        stop_training = False

    evaluation = step_evaluation.StepEvaluation(validation_data=None, every=8, batch_size=32)
    evaluation.set_model(Model())
    evaluated = []
    monkeypatch.setattr(step_evaluation, "evaluate_keeping_metrics",
                        lambda model, data: evaluated.append(evaluation._step) or {})
    for _ in range(10):
        evaluation.on_train_batch_end(0, {})
    evaluation.set_batch_size(128)  # 8 steps of 32 = 2 steps of 128
    for _ in range(5):
        evaluation.on_train_batch_end(0, {})
    assert evaluated == [8, 12, 14] and evaluation.every == 2


def test_adapt_every_steps_switches_in_mid_epoch_with_one_row_per_epoch(tmp_path, monkeypatch):
    from kerasbatch.training.schedules import adaptive as batch_schedule
    from kerasbatch.training.schedules.plan import Decision

    # The policy is tested above; here a stub that always doubles exercises the segments.
    monkeypatch.setattr(batch_schedule.AdaptivePolicy, "choose",
                        lambda self, current, *a, **k: Decision(min(2 * current, self.max_batch), 2.0, "doubling"))
    config = RunConfig(**DIGITS, batch_size=32, epochs=2, batch_schedule="adaptive", adapt_every_steps=10,
                       max_batch=128, diagnostics=("gns",), diagnostics_every=5)
    result = train.run(config, Store(tmp_path, "mid"), verbose=0)
    n_train = train.data.load(config.data).n_train
    history = pd.read_csv(result.path / "history.csv")
    # Epoch 1: 10 steps at 32, 10 at 64, then the rest of the epoch at 128; epoch 2 at 128.
    first = 10 + 10 + (n_train - 320 - 640) // 128
    assert [(e["step"], e["batch_size"]) for e in result.summary["schedule"]] == [(0, 32), (10, 64), (20, 128)]
    assert history["epoch"].tolist() == [1, 2] and history["batch_size"].tolist() == [128, 128]
    assert history["steps"].tolist() == [first, first + n_train // 128]
    assert history["examples"].iloc[0] == 320 + 640 + (first - 20) * 128
    assert int(keras.ops.convert_to_numpy(result.model.optimizer.iterations)) == history["steps"].iloc[-1]
    assert history["val_accuracy"].notna().all() and history["loss"].iloc[1] < history["loss"].iloc[0]
    assert result.summary["train_traces"] == 1
