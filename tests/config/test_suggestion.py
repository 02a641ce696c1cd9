"""A search from a suggestion: the rate range centred on its rate, its batch size joined to the sizes."""

import dataclasses
import math

import keras_tuner as kt
import pytest

from kerasbatch.store import SUGGESTION
from kerasbatch.tuning.tune import BatchSizeHyperModel

from tests.searches import search, write_suggestion


def test_a_suggestion_centres_the_rate_range_on_its_rate_and_joins_the_batch_sizes(tmp_path):
    study = write_suggestion(tmp_path / "suggested", 48, 0.05)
    config = search(from_suggestion=str(study / SUGGESTION))  # searched: lr_range (0.01, 0.5), sizes 16,32,64
    half_width = math.sqrt(0.5 / 0.01)  # the range spans a factor 50: sqrt(50) either side of the rate
    assert config.lr_range == pytest.approx((0.05 / half_width, 0.05 * half_width))  # (0.00707, 0.354)
    assert math.sqrt(config.lr_range[0] * config.lr_range[1]) == pytest.approx(0.05)
    assert config.batch_sizes == (16, 32, 48, 64) and config.first_trial == (48, 0.05)
    # The study folder names the same suggestion; building the config again centres nothing twice.
    from_study = search(from_suggestion=str(study))
    assert (from_study.lr_range, from_study.first_trial) == (config.lr_range, config.first_trial)
    assert dataclasses.replace(config, max_trials=7).lr_range == config.lr_range

    # Under linear scaling the searched rate is the one for base_batch 32: trial 0 trains at 0.05 all the same.
    linear = search(from_suggestion=str(study), lr_scaling="linear")
    assert linear.first_trial == (48, pytest.approx(0.05 * 32 / 48))
    first = BatchSizeHyperModel(linear).trial_config(kt.HyperParameters())  # the defaults
    assert (first.batch_size, first.learning_rate) == (48, pytest.approx(0.05))
    assert search().first_trial is None
