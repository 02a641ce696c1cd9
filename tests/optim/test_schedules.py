"""Learning-rate schedules: warm-up, decay, serialisation, the batch-scaled schedule, and the rate a log reads."""

import keras
import numpy as np
import pytest

from kerasbatch.config.run import OptimConfig
from kerasbatch.optim.schedules import WarmupSchedule, keras_schedule, make_schedule, BatchScaledSchedule


def rates(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_warmup_ramps_linearly_from_start_to_peak():
    schedule = WarmupSchedule(peak_lr=0.4, total_steps=100, warmup_steps=10, start_lr=0.1)
    np.testing.assert_allclose(rates(schedule, [0, 5, 10, 50, 99]), [0.1, 0.25, 0.4, 0.4, 0.4], rtol=1e-6)


def test_step_decay_divides_by_ten_at_half_and_three_quarters():
    schedule = WarmupSchedule(peak_lr=1.0, total_steps=100, decay="step")
    np.testing.assert_allclose(rates(schedule, [0, 49, 50, 74, 75, 99]), [1, 1, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)


def test_cosine_decay_after_warmup_reaches_zero():
    schedule = WarmupSchedule(peak_lr=1.0, total_steps=110, warmup_steps=10, decay="cosine")
    np.testing.assert_allclose(rates(schedule, [10, 60, 110]), [1.0, 0.5, 0.0], atol=1e-6)


def test_schedule_serialises():
    schedule = WarmupSchedule(peak_lr=0.2, total_steps=30, warmup_steps=3, start_lr=0.05, decay="cosine")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(clone, WarmupSchedule) and clone.get_config() == schedule.get_config()
    np.testing.assert_allclose(rates(clone, range(30)), rates(schedule, range(30)))


def test_make_schedule_follows_the_goyal_recipe():
    optim = OptimConfig(learning_rate=0.1, base_batch=32, lr_scaling="linear", warmup_epochs=5)
    schedule = make_schedule(optim, batch_size=256, steps_per_epoch=10, epochs=20)
    assert schedule.peak_lr == pytest.approx(0.8)
    assert schedule.start_lr == pytest.approx(0.1) and schedule.warmup_steps == 50 and schedule.total_steps == 200


def test_warmup_without_scaling_starts_from_zero():
    optim = OptimConfig(learning_rate=0.1, lr_scaling="none", warmup_epochs=1)
    assert make_schedule(optim, 256, 10, 5).start_lr == 0.0


@pytest.mark.parametrize("decay", ["constant", "cosine", "step"])
@pytest.mark.parametrize("warmup", [0, 7])
def test_keras_schedule_gives_the_same_rates_from_the_end_of_warmup_on(decay, warmup):
    ours = WarmupSchedule(peak_lr=0.4, total_steps=60, warmup_steps=warmup, start_lr=0.1, decay=decay)
    theirs = keras_schedule(ours)
    assert type(theirs).__module__.startswith("keras.")
    # Constant and cosine match at every step; step decay from the end of warm-up (where a saved model resumes).
    first = warmup if decay == "step" else 0
    steps = range(first, 70)
    np.testing.assert_allclose(rates(theirs, steps), rates(ours, steps), rtol=1e-5, atol=1e-7)
    if decay != "constant":  # the rates compared really decay
        assert rates(theirs, [65])[0] < 0.1 * 0.4


@pytest.mark.parametrize("decay", ["constant", "step", "cosine"])
@pytest.mark.parametrize("warmup", [0, 10])
def test_the_python_rate_a_log_reads_is_the_traced_rate(decay, warmup):
    from kerasbatch.optim.state import applied_learning_rate
    from kerasbatch.optim.schedules import BatchScaledSchedule

    schedule = WarmupSchedule(peak_lr=0.4, total_steps=100, warmup_steps=warmup, start_lr=0.1, decay=decay)
    steps = range(0, 121, 3)
    traced = [float(keras.ops.convert_to_numpy(schedule(step))) for step in steps]
    assert [schedule.rate_at(step) for step in steps] == pytest.approx(traced, rel=1e-6, abs=1e-9)
    scaled = BatchScaledSchedule(schedule, base_batch=32)
    scaled.switch(step=12, batch_size=128, factor=1.5)
    later = range(12, 40, 5)
    assert [scaled.rate_at(s) for s in later] == pytest.approx(
        [float(keras.ops.convert_to_numpy(scaled(s))) for s in later], rel=1e-6, abs=1e-9)
    optimizer = keras.optimizers.SGD(scaled)
    optimizer.iterations.assign(30)
    assert applied_learning_rate(optimizer) == pytest.approx(float(keras.ops.convert_to_numpy(scaled(29))), rel=1e-6)


def test_batch_scaled_schedule_follows_examples_and_scales_the_rate():
    base = WarmupSchedule(peak_lr=0.1, total_steps=100, warmup_steps=20, start_lr=0.0)
    schedule = BatchScaledSchedule(base, base_batch=32)
    assert float(schedule(10)) == pytest.approx(0.05)
    schedule.switch(step=10, batch_size=64, factor=2.0)
    # Step 15 at batch 64 has seen as many examples as step 20 at batch 32: the end of warm-up.
    assert float(schedule(15)) == pytest.approx(0.2)
    again = BatchScaledSchedule.from_config(schedule.get_config())
    assert float(again(15)) == pytest.approx(0.2)
