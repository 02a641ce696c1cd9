"""The TensorFlow estimator of the gradient noise scale against the exact value from per-example gradients,
state safety and mixed precision."""

import math
import subprocess
import sys

import numpy as np
import pytest

from kerasbatch.noise import probe as noise_probe


N_EXAMPLES, N_FEATURES, N_CLASSES = 1024, 8, 3


def test_module_imports_without_tensorflow():
    code = "import sys, kerasbatch.noise.estimators, kerasbatch.noise.probe; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _softmax_regression(loss_weight=None):
    """Softmax regression; ``loss_weight`` multiplies the cross-entropy (a bare loss function then)."""
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy()
    if loss_weight is not None:
        loss = lambda y, p: loss_weight * keras.losses.sparse_categorical_crossentropy(y, p)  # noqa: E731
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(N_CLASSES),
                              keras.layers.Activation("softmax", dtype="float32")])
    model.compile(optimizer="sgd", loss=loss)
    return model


@pytest.fixture(scope="module")
def problem():
    """3-class data labelled by a true softmax model, and a softmax regression at 0.3x its weights
    (B_simple ~ 64: comparable to the batch sizes used)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_EXAMPLES, N_FEATURES)).astype("float32")
    w_true = rng.normal(size=(N_FEATURES, N_CLASSES))
    y = np.argmax(x @ w_true + rng.gumbel(size=(N_EXAMPLES, N_CLASSES)), axis=1).astype("int32")
    weights = [(0.3 * w_true).astype("float32"), rng.normal(0, 0.1, N_CLASSES).astype("float32")]
    model = _softmax_regression()
    model.layers[0].set_weights(weights)
    return model, x, y


def test_a_measurement_per_new_model_is_no_retracing_warning(problem):
    import logging

    _, x, y = problem
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        for _ in range(8):  # as a study does: a new model per run, each measured
            noise_probe.micro_batch_sq_norms(_softmax_regression(), x[:64], y[:64], micro_batches=2)
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]


def _per_example_grads(model, x, y):
    """Analytic cross-entropy gradients of softmax regression, one row per example (float64)."""
    kernel, bias = (w.astype(np.float64) for w in model.layers[0].get_weights())
    logits = x.astype(np.float64) @ kernel + bias
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    delta = probs - np.eye(N_CLASSES)[y]
    return np.concatenate([(x[:, :, None] * delta[:, None, :]).reshape(len(x), -1), delta], axis=1)


def _exact_gns(grads):
    mean = grads.mean(axis=0)
    return ((grads - mean) ** 2).sum(axis=1).mean() / (mean @ mean)


def test_micro_batch_sq_norms_equal_per_example_gradient_algebra(problem):
    model, x, y = problem
    parts = _per_example_grads(model, x[:64], y[:64]).reshape(4, 16, -1).mean(axis=1)
    small, big, finite = noise_probe.micro_batch_sq_norms(model, x[:64], y[:64], micro_batches=4)
    assert finite
    assert small == pytest.approx((parts**2).sum(axis=1).mean(), rel=1e-4)
    assert big == pytest.approx((parts.mean(axis=0) ** 2).sum(), rel=1e-4)


def test_measure_matches_exact_noise_scale_on_iid_batches(problem):
    model, x, y = problem
    exact = _exact_gns(_per_example_grads(model, x, y))
    assert 20 < exact < 200  # a regime where the estimate is neither trivial nor hopeless
    errors = []
    for seed in range(20):
        # Sampling with replacement makes the batches i.i.d., as the estimator assumes.
        index = np.random.default_rng(seed).integers(0, N_EXAMPLES, size=(100, 128))
        estimate = noise_probe.measure(model, ((x[i], y[i]) for i in index), micro_batches=8)
        assert (estimate.batch_size, estimate.micro_batches, estimate.samples) == (128, 8, 100)
        errors.append(abs(estimate.gns / exact - 1))
    within = np.mean(np.array(errors) <= 0.15)
    assert within >= 0.95, f"exact {exact:.2f}, within 15%: {within:.2f}, errors {np.round(errors, 3)}"


def test_measure_leaves_every_variable_bit_identical():
    import keras
    import tensorflow as tf

    dropout = keras.layers.Dropout(0.5)
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(16),
                              keras.layers.BatchNormalization(), dropout, keras.layers.Dense(N_CLASSES),
                              keras.layers.Activation("softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert any(v is dropout.seed_generator.state for v in model.non_trainable_variables)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, size=100)
    before = [v.numpy().copy() for v in model.variables]

    # 100 = 3 x 32 + 4: the short last batch is skipped.
    estimate = noise_probe.measure(model, tf.data.Dataset.from_tensor_slices((x, y)).batch(32))
    assert estimate.samples == 3 and math.isfinite(estimate.trace_sigma)  # random labels: G ~ 0
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, model.variables))
    model(x, training=True)  # control: an ordinary training call does move the state
    assert not all(np.array_equal(b, v.numpy()) for b, v in zip(before, model.variables))


def test_non_finite_gradients_are_reported_and_such_batches_skipped(problem):
    _, x, y = problem
    model = _softmax_regression()
    kernel, bias = model.layers[0].get_weights()
    kernel[0, 0] = np.nan
    model.layers[0].set_weights([kernel, bias])
    assert noise_probe.micro_batch_sq_norms(model, x[:32], y[:32], 4)[2] is False
    with pytest.raises(ValueError, match="no usable batch"):
        noise_probe.measure(model, [(x[:32], y[:32])])


@pytest.mark.parametrize("micro_batches, size", [(1, 32), (0, 32), (4, 30)])
def test_bad_micro_batches_or_indivisible_batch_raise(problem, micro_batches, size):
    model, x, y = problem
    with pytest.raises(ValueError):
        noise_probe.measure(model, [(x[:size], y[:size])], micro_batches=micro_batches)
    with pytest.raises(ValueError):
        noise_probe.micro_batch_sq_norms(model, x[:size], y[:size], micro_batches)


def test_measure_rejects_empty_dataset(problem):
    with pytest.raises(ValueError, match="no usable batch"):
        noise_probe.measure(problem[0], [])


# A loss this small underflows to zero gradients in float16 unless it is scaled before backprop.
LOSS_WEIGHTS = (None, 1e-7)


@pytest.fixture(scope="module")
def float32_reference(problem):
    """Fixed batches and float32 estimates per loss weight (module scope: built before any policy)."""
    model, x, y = problem
    index = np.random.default_rng(5).integers(0, N_EXAMPLES, size=(20, 64))
    batches = [(x[i], y[i]) for i in index]
    estimates = {}
    for weight in LOSS_WEIGHTS:
        reference = _softmax_regression(weight)
        reference.set_weights(model.get_weights())
        estimates[weight] = noise_probe.measure(reference, batches, micro_batches=4)
    return batches, estimates


@pytest.fixture
def mixed_float16():
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("loss_weight", LOSS_WEIGHTS, ids=["plain", "tiny_loss"])
def test_mixed_float16_gradients_are_unscaled_and_agree_with_float32(
        problem, float32_reference, mixed_float16, loss_weight):
    import keras

    batches, estimates = float32_reference
    half = _softmax_regression(loss_weight)
    half.set_weights(problem[0].get_weights())
    assert half.layers[0].compute_dtype == "float16"
    assert isinstance(half.optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(half.optimizer.scale_loss(1.0)) == 32768.0

    full, mixed = estimates[loss_weight], noise_probe.measure(half, batches, micro_batches=4)
    assert mixed.samples == 20 and math.isfinite(mixed.gns)
    assert mixed.gns == pytest.approx(full.gns, rel=0.2)
    # Unscaled: the same magnitude as float32, not 32768 (or 32768**2) times larger.
    assert mixed.grad_sq == pytest.approx(full.grad_sq, rel=0.2)
    assert mixed.trace_sigma == pytest.approx(full.trace_sigma, rel=0.2)


# --- dropout: each probe batch draws fresh masks -------------------------------------------------------

@pytest.fixture(scope="module")
def dropout_model():
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(N_CLASSES, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_measure_draws_new_dropout_masks_for_every_probe_batch(problem, dropout_model):
    _, x, y = problem
    batch = (x[:64], y[:64])
    once = noise_probe.measure(dropout_model, [batch], micro_batches=4)
    # The same inputs twice: with the masks of the first batch reused, the second adds the same numbers
    # and the averages could not move.
    twice = noise_probe.measure(dropout_model, [batch, batch], micro_batches=4)
    assert twice.samples == 2
    assert twice.trace_sigma != pytest.approx(once.trace_sigma, rel=1e-3)
    assert twice.grad_sq != pytest.approx(once.grad_sq, rel=1e-3)
    # Measuring again starts from the model's own state, which measuring never advanced.
    again = noise_probe.measure(dropout_model, [batch], micro_batches=4)
    assert (again.trace_sigma, again.grad_sq) == (once.trace_sigma, once.grad_sq)


def test_measure_with_population_matches_exact_noise_scale_over_epochs(problem):
    model, x, y = problem
    n = 256  # B_simple ~ 64 is a quarter of N: the uncorrected estimate is ~1/(1 - 1/4) = 1.33x too high
    exact = _exact_gns(_per_example_grads(model, x[:n], y[:n]))
    rng = np.random.default_rng(11)
    # Epochs: each a permutation cut into two batches of 128, as a shuffled pipeline serves them.
    epochs = [rng.permutation(n) for _ in range(400)]
    batches = [(x[:n][p[i:i + 128]], y[:n][p[i:i + 128]]) for p in epochs for i in (0, 128)]
    corrected = noise_probe.measure(model, batches, micro_batches=8, population=n)
    uncorrected = noise_probe.measure(model, batches, micro_batches=8)
    assert corrected.gns == pytest.approx(exact, rel=0.05), (corrected.gns, uncorrected.gns, exact)
    assert uncorrected.gns / exact > 1.2


# --- batch normalization: tr(Sigma) depends on the micro-batch --------------------------------------------

def _batch_norm_model(batch_norm: bool):
    import keras

    keras.utils.set_random_seed(2)
    norm = keras.layers.BatchNormalization if batch_norm else (lambda: keras.layers.Identity())
    model = keras.Sequential([keras.Input((N_FEATURES,)), keras.layers.Dense(16), norm(),
                              keras.layers.Activation("relu"), keras.layers.Dense(N_CLASSES), norm(),
                              keras.layers.Activation("softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_batch_norm_inflates_trace_sigma_on_smaller_micro_batches(problem):
    _, x, y = problem
    index = np.random.default_rng(0).integers(0, N_EXAMPLES, size=(200, 128))
    batches = [(x[i], y[i]) for i in index]
    ratios = {}
    for batch_norm in (True, False):
        model = _batch_norm_model(batch_norm)
        # The same weights and batches, in 8 micro-batches of 16 and in 2 of 64.
        of_16, of_64 = (noise_probe.measure(model, batches, micro_batches=k) for k in (8, 2))
        ratios[batch_norm] = (of_16.trace_sigma / of_64.trace_sigma, of_16.gns / of_64.gns)
    # Each micro-batch normalised with its own statistics: ~10% more tr(Sigma), ~14% more gns at 16.
    assert ratios[True][0] > 1.04 and ratios[True][1] > 1.08, ratios
    # Without batch normalization the estimator does not depend on the split.
    assert ratios[False][0] == pytest.approx(1.0, abs=0.04), ratios
    assert ratios[False][1] == pytest.approx(1.0, abs=0.04), ratios

