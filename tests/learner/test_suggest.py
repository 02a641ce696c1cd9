"""The learner's answer says how sure it is, and never rests silently on what it could not measure."""

import json
import time

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from kerasbatch.config.learner import SuggestConfig
from kerasbatch.config.run import OptimConfig, RunConfig
from kerasbatch.config.scaling import adam_rule
from kerasbatch.config.scaling import adam_or_noise
from kerasbatch.learner.confidence import describe_confidence, judge
from kerasbatch.learner.suggest import NoiseMeasurement, Suggestion, suggested_config


def _measured(reached=True, error=0.1, accuracy=0.96):
    return NoiseMeasurement(noise_scale=400.0, relative_error=error, batch_size=32, micro_batch_size=32,
                            window=(3, 6), trajectory=[], steps_to_target=600 if reached else None, seconds=5.0,
                            target_reached=reached, goal_epoch=6, goal_accuracy=accuracy, steps_to_goal=600)


def _config(**kwargs):
    return SuggestConfig(run=RunConfig(target=0.95), **kwargs)


def test_a_reached_target_a_small_error_and_a_narrow_range_are_confident():
    got = judge(_config(), _measured(), (256, 512), n_train=10_000)
    assert got["level"] == "confident" and got["reasons"] == []
    assert got["batch_range"] == (256, 512) and got["target_reached"] and got["relative_error"] == 0.1


@pytest.mark.parametrize("measured, batch_range, says", [
    (_measured(reached=False, accuracy=0.91), (256, 512),
     "the target 0.95 was not reached at batch 32 (it levelled off at 0.91 by epoch 6)"),
    (_measured(error=0.69), (256, 512), "the noise scale's relative error 0.69 is above max_relative_error 0.2"),
    (_measured(), (128, 1024), "sizes 128–1024 are all predicted within 25% of the least time"),
])
def test_what_the_measurement_cannot_support_makes_the_answer_uncertain_and_says_why(measured, batch_range, says):
    got = judge(_config(), measured, batch_range, n_train=10_000)
    assert got["level"] == "uncertain" and len(got["reasons"]) == 1 and got["reasons"][0].startswith(says)


def test_an_adam_answer_without_adams_preconditioning_says_so():
    adam = SuggestConfig(run=RunConfig(target=0.9, optim=OptimConfig(optimizer="adam", learning_rate=1e-3)))
    measured = _measured()
    got = judge(adam, measured, (256, 512), n_train=10_000)
    assert got["level"] == "uncertain"
    assert got["reasons"] == ["Adam's preconditioned noise scale could not be measured (its |G|² estimates were "
                              "noise); this is the raw gradients'"]
    measured.preconditioned = True
    assert judge(adam, measured, (256, 512), n_train=10_000)["level"] == "confident"


def test_the_console_line_states_the_range_and_names_the_whole_training_set():
    confidence = judge(_config(), _measured(reached=False, accuracy=0.91), (1120, 1120), n_train=1120)
    suggestion = Suggestion(batch_size=1120, learning_rate=0.1, noise_scale=400.0, noise_scale_interval=(300, 500),
                            batch_size_interval=(1120, 1120), predicted_speedup=2.0, baseline_batch=32, candidates=[],
                            confidence=confidence)
    line = describe_confidence(suggestion)
    assert line.startswith("confidence: uncertain — the target 0.95 was not reached")
    assert "chose 1120, the only size within 25% of the least predicted time" in line
    assert line.endswith("batch 1120 is the whole training set")
    assert not suggestion.confident


def test_adam_and_adamw_take_the_adam_rule_and_sgd_the_noise_rule():
    assert [adam_or_noise(o) for o in ("sgd", "adam", "adamw")] == ["noise", "adam", "adam"]
    config = SuggestConfig(run=RunConfig(target=0.9, optim=OptimConfig(optimizer="adam", learning_rate=1e-3)))
    suggestion = Suggestion(batch_size=256, learning_rate=0.0, noise_scale=128.0, noise_scale_interval=(100, 150),
                            batch_size_interval=(128, 256), predicted_speedup=2.0, baseline_batch=32, candidates=[])
    run = suggested_config(config, suggestion)
    assert run.batch_size == 256 and run.optim.lr_scaling == "adam" and run.optim.noise_scale == 128.0
    assert run.optim.scaled_learning_rate(256) == pytest.approx(1e-3 * adam_rule(128.0, 32, 256))


def test_the_notebook_call_on_a_target_it_never_reaches_returns_in_its_budget_and_says_so(tmp_path, monkeypatch):
    """The 64-unit MLP on digits (1,400 / 397) with SGD at its defaults: target 0.95, budget 120 s."""
    import kerasbatch

    monkeypatch.setenv("KERASBATCH_CACHE", str(tmp_path / "cache"))
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")

    def build_model():
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])

    began = time.perf_counter()
    suggestion = kerasbatch.suggest(build_model, x[:1400], y[:1400], validation_data=(x[1400:], y[1400:]),
                                    out=tmp_path / "runs", progress=False)
    assert time.perf_counter() - began < 120.0
    confidence, measured = suggestion.confidence, suggestion.measurement
    n_train = confidence["training_examples"]
    assert n_train == 1120  # 20 % of the 1,400 held out as the test set
    # Its validation accuracy levels off below 0.95: the run stops there, not after hundreds of epochs.
    assert not measured["target_reached"] and measured["goal_epoch"] < 150
    assert measured["stopped_because"].startswith("validation accuracy stopped rising")
    assert confidence["level"] == "uncertain"
    assert confidence["reasons"][0].startswith("the target 0.95 was not reached at batch 32")
    low, high = confidence["batch_range"]
    assert suggestion.batch_size == low <= high
    assert suggestion.batch_size < n_train  # never the whole training set on an uncertain answer
    assert suggestion.learning_rate == pytest.approx(
        0.01 * (1 + suggestion.noise_scale / 32) / (1 + suggestion.noise_scale / suggestion.batch_size))
    written = json.loads(next((tmp_path / "runs").glob("*/suggestion.json")).read_text())
    assert written["confidence"]["level"] == "uncertain" and written["batch_size"] == suggestion.batch_size
