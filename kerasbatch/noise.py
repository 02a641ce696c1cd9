"""Gradient noise scale: how large a batch can get before it stops paying off.

McCandlish et al. (2018, "An Empirical Model of Large-Batch Training", App. A) define the simple noise
scale ``B_simple = tr(Sigma) / |G|^2``, where ``G`` is the true gradient and ``Sigma`` the covariance of
a single example's gradient. Neither is observable, but the squared norms of two gradient estimates taken
at the same weights, at batch sizes ``b_small < b_big``, give unbiased estimates of both::

    |G|^2     ~ (b_big |g_big|^2 - b_small |g_small|^2) / (b_big - b_small)
    tr(Sigma) ~ (|g_small|^2 - |g_big|^2) / (1/b_small - 1/b_big)

One training batch of size ``B`` supplies both: split it into ``k`` micro-batches, take the mean of their
squared gradient norms as ``|g_small|^2`` (``b_small = B/k``) and the squared norm of their mean as
``|g_big|^2`` (``b_big = B``). Each estimate is noisy and ``|G|^2`` can come out negative, so numerator
and denominator are averaged separately over many batches and divided last (:class:`NoiseAccumulator`).
Batches drawn without replacement from ``N`` training examples (an epoch) vary less than that; the
``population`` argument corrects for it (:func:`two_batch_estimates`).

Layers: the math (:func:`two_batch_estimates`, :class:`NoiseAccumulator`, the theory helpers) needs only
numpy, so this module imports without TensorFlow; :func:`micro_batch_sq_norms` and :func:`measure` import
it when called. Measuring goes through ``model.stateless_call``, so it never changes a variable: no
BatchNormalization statistics update, no dropout seed advance. The seed state a probe ends with is kept
apart (:class:`ProbeSeeds`) and carried to the next probe, so successive probes draw new dropout masks.
Under ``mixed_float16`` the loss is scaled by the optimizer's loss scale before differentiating (float16
gradients underflow otherwise) and the gradients are unscaled, in float32, before any statistic.
"""

from __future__ import annotations

import itertools
import logging
import math
import weakref
from dataclasses import dataclass

import numpy as np


def two_batch_estimates(small_sq_norm: float, big_sq_norm: float, b_small: float, b_big: float,
                        population: int | None = None) -> tuple[float, float]:
    """Unbiased ``(|G|^2, tr(Sigma))`` from squared gradient norms at batch sizes ``b_small < b_big``.

    With ``population=None`` the batches are i.i.d. draws (sampling with replacement), so
    ``E|g_b|^2 = |G|^2 + tr(Sigma)/b`` and the module's two formulas follow. A batch drawn without
    replacement from ``N = population`` examples (an epoch's batches, or the micro-batches of one such
    batch) has ``E|g_b|^2 = |G|^2 + tr(Sigma) c(b)`` with ``c(b) = (1/b - 1/N) N/(N-1)``, where ``G`` is
    the mean of the ``N`` per-example gradients and ``tr(Sigma)`` their variance (divisor ``N``). Solving
    the two equations::

        tr(Sigma) = (|g_small|^2 - |g_big|^2) / (1/b_small - 1/b_big) * (N-1)/N
        |G|^2     = ((1/b_small - 1/N) |g_big|^2 - (1/b_big - 1/N) |g_small|^2) / (1/b_small - 1/b_big)
                  = |G|^2 (i.i.d. formula) + tr(Sigma)/(N-1)

    Without the correction ``|G|^2`` comes out low by ``tr(Sigma)/(N-1)``: the noise scale is then
    overestimated by a factor of about ``1/(1 - B_simple/N)``, large when ``B_simple`` nears ``N``.

    Raises ValueError unless ``0 < b_small < b_big <= population``.
    """
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got b_small={b_small}, b_big={b_big}")
    if population is not None and not population >= b_big:
        raise ValueError(f"population must be at least b_big={b_big}, got {population}")
    grad_sq = (b_big * big_sq_norm - b_small * small_sq_norm) / (b_big - b_small)
    trace_sigma = (small_sq_norm - big_sq_norm) / (1.0 / b_small - 1.0 / b_big)
    if population is not None:
        trace_sigma *= (population - 1.0) / population
        grad_sq += trace_sigma / (population - 1.0)
    return float(grad_sq), float(trace_sigma)


def expected_sq_norm(grad_sq: float, trace_sigma: float, batch: float, population: int | None = None) -> float:
    """``E|g_b|^2 = |G|^2 + c(b) tr(Sigma)``: the mean squared norm of a batch-``b`` gradient, with
    ``c(b) = 1/b`` for i.i.d. batches and ``(1/b - 1/N) N/(N-1)`` without replacement from ``N``."""
    if population is None:
        return grad_sq + trace_sigma / batch
    return grad_sq + trace_sigma * (1.0 / batch - 1.0 / population) * population / (population - 1.0)


def _ratio(trace_sigma: float, grad_sq: float) -> float:
    # A non-positive |G|^2 estimate means the noise swamped the signal: there is no meaningful ratio.
    return trace_sigma / grad_sq if math.isfinite(grad_sq) and grad_sq > 0 else math.nan


@dataclass(frozen=True)
class NoiseEstimate:
    """Averaged noise statistics at one set of weights; ``samples`` is how many batches were averaged."""

    grad_sq: float
    trace_sigma: float
    batch_size: int
    micro_batches: int
    samples: int

    @property
    def gns(self) -> float:
        """``B_simple = trace_sigma / grad_sq``; NaN when ``grad_sq`` is not a positive number."""
        return _ratio(self.trace_sigma, self.grad_sq)


class NoiseAccumulator:
    """Averages ``|G|^2`` and ``tr(Sigma)`` estimates separately; ``gns`` divides the averages.

    ``ema`` is the decay of an exponential moving average, bias-corrected like Adam (equivalent to
    dividing by ``1 - ema**count``) so early values are not pulled toward zero; ``ema=None`` is a plain
    running mean. Updates with a NaN or infinite value are ignored and not counted.
    """

    def __init__(self, ema: float | None = 0.9):
        if ema is not None and not 0.0 <= ema < 1.0:
            raise ValueError(f"ema must be in [0, 1) or None, got {ema!r}")
        self.ema = ema
        self._grad_sq = self._trace_sigma = self._weight = 0.0
        self._count = 0

    def update(self, grad_sq: float, trace_sigma: float) -> None:
        """Add one pair of estimates (e.g. from :func:`two_batch_estimates`)."""
        if not (math.isfinite(grad_sq) and math.isfinite(trace_sigma)):
            return
        # Decayed sums over a decayed weight: the bias-corrected EMA, exact at the first update.
        decay = 1.0 if self.ema is None else self.ema
        self._grad_sq = decay * self._grad_sq + grad_sq
        self._trace_sigma = decay * self._trace_sigma + trace_sigma
        self._weight = decay * self._weight + 1.0
        self._count += 1

    @property
    def count(self) -> int:
        """Updates accepted so far."""
        return self._count

    @property
    def grad_sq(self) -> float:
        return self._grad_sq / self._weight if self._count else math.nan

    @property
    def trace_sigma(self) -> float:
        return self._trace_sigma / self._weight if self._count else math.nan

    @property
    def gns(self) -> float:
        return _ratio(self.trace_sigma, self.grad_sq)


def _floats(*values):
    return [np.asarray(v, dtype=float) for v in values]


def _result(value):
    return float(value) if value.ndim == 0 else value


def steps_to_target(batch, s_min, b_noise):
    """Predicted optimizer steps to reach a target at batch ``batch``: ``S_min (1 + B_noise / B)``."""
    batch, s_min, b_noise = _floats(batch, s_min, b_noise)
    return _result(s_min * (1.0 + b_noise / batch))


def examples_to_target(batch, e_min, b_noise):
    """Predicted training examples to reach a target at batch ``batch``: ``E_min (1 + B / B_noise)``."""
    batch, e_min, b_noise = _floats(batch, e_min, b_noise)
    return _result(e_min * (1.0 + batch / b_noise))


def statistical_efficiency(batch, base_batch, b_noise):
    """Progress per example at ``batch`` relative to ``base_batch``: ``(B_noise + B0) / (B_noise + B)``.

    Multiply by throughput to get goodput (Qiao et al. 2021).
    """
    batch, base_batch, b_noise = _floats(batch, base_batch, b_noise)
    return _result((b_noise + base_batch) / (b_noise + batch))


def fit_steps_curve(batch_sizes, steps) -> tuple[float, float]:
    """Least-squares ``(S_min, B_noise)`` of ``S(B) = S_min (1 + B_noise / B)`` to measured steps.

    The model is linear in ``1/B``: ``S = S_min + S_min B_noise / B``. Returns NaNs when fewer than two
    finite points at distinct batch sizes remain, or when the fit has a non-positive ``S_min`` or
    ``B_noise`` (the data do not follow the model).
    """
    b, s = (values.ravel() for values in _floats(batch_sizes, steps))
    ok = np.isfinite(b) & np.isfinite(s) & (b > 0)
    if np.unique(b[ok]).size < 2:
        return math.nan, math.nan
    slope, intercept = np.polyfit(1.0 / b[ok], s[ok], 1)
    if intercept <= 0 or slope <= 0:
        return math.nan, math.nan
    return float(intercept), float(slope / intercept)


# One traced function per (model, micro-batch count); weak keys so a dropped model frees its graph.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loss_fn(model):
    import keras

    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, (list, tuple, dict)):
        raise ValueError(f"model must be compiled with a single loss, got loss={loss!r}")
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss  # applies its own reduction, as compile does
    # A bare function returns per-example values; compile reduces them with a mean.
    return lambda y_true, y_pred: keras.ops.mean(loss(y_true, y_pred))


def _loss_scale(model) -> float | None:
    from kerasbatch.precision import loss_scale

    # The current dynamic scale, read fresh on every call: it changes as training goes.
    return loss_scale(getattr(model, "optimizer", None))


class ProbeSeeds:
    """The random state that a series of probes carries from one to the next, apart from the model's.

    ``model.stateless_call`` returns the state its random layers (dropout) end with instead of writing it
    into the model. A probe that started from the model's variables every time would draw the same masks
    each time; a probe given a ``ProbeSeeds`` starts where the previous one left off (the model's own
    state at the first), as successive training steps do, and the model's variables are never written.
    """

    def __init__(self):
        self.state: list | None = None

    def start(self, model, positions: list[int]) -> list:
        if self.state is None or len(self.state) != len(positions):
            variables = model.non_trainable_variables
            self.state = [variables[i].value for i in positions]
        return self.state


def _seed_positions(model) -> list[int]:
    """Where the seed generators' states sit in ``model.non_trainable_variables``.

    Keras's ``SeedGenerator`` names its state variable ``seed_generator_state``; this is the one place
    that relies on it (a dropout test fails if it stops holding).
    """
    return [i for i, v in enumerate(model.non_trainable_variables) if v.name == "seed_generator_state"]


def _micro_batch_grads(model, loss_fn, xs, ys, scale, state):
    """Unscaled float32 gradients of each micro-batch, computed without touching the model, and the
    non-trainable state after the last micro-batch.

    ``scale`` is the loss scale as a tensor, or None when the loss is not scaled (no ops spent on it).
    """
    import tensorflow as tf

    trainable = [v.value for v in model.trainable_variables]
    grads = []
    for x, y in zip(xs, ys):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            # The state is threaded through so each micro-batch draws its own dropout masks, as
            # consecutive training steps would.
            y_pred, state, losses = model.stateless_call(trainable, state, x, training=True,
                                                         return_losses=True)
            loss = tf.cast(loss_fn(y, y_pred), tf.float32)
            loss += tf.add_n([tf.cast(extra, tf.float32) for extra in losses]) if losses else 0.0
            if scale is not None:
                loss *= scale
        chain = [tf.cast(tf.convert_to_tensor(g), tf.float32) for g in tape.gradient(loss, trainable)
                 if g is not None]
        grads.append(chain if scale is None else [g / scale for g in chain])
    return grads, state


def _split(structure, parts: int) -> list:
    """``parts`` equal slices along the batch axis of every tensor in a (possibly nested) input."""
    import tensorflow as tf

    pieces = [tf.split(t, parts, axis=0) for t in tf.nest.flatten(structure)]
    return [tf.nest.pack_sequence_as(structure, [p[i] for p in pieces]) for i in range(parts)]


def _sq_norm(tensors):
    import tensorflow as tf

    return tf.add_n([tf.reduce_sum(tf.square(t)) for t in tensors])


class _OneTracePerModel(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning about the measurement step.

    TensorFlow counts traces by a function's code, not by the function: every model gets its own
    measurement step, traced once, so a study of a dozen runs looks to it like one function traced a
    dozen times. The warning is for a function retraced in a loop, which this is not.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "_traced_step.<locals>.step" not in record.getMessage()


_ONE_TRACE_PER_MODEL = _OneTracePerModel()


def _traced_step(model, micro_batches: int):
    """``(step, seed positions)``: the traced measurement for this model and micro-batch count."""
    import tensorflow as tf

    logging.getLogger("tensorflow").addFilter(_ONE_TRACE_PER_MODEL)  # once: a filter is added only once
    per_model = _TRACED.setdefault(model, {})
    variable_ids = tuple(id(v) for v in model.trainable_variables + model.non_trainable_variables)
    cached = per_model.get(micro_batches)
    # A recompiled model (new loss) or a changed variable set needs a fresh graph.
    if cached is None or cached[0] is not model.loss or cached[1] != variable_ids:
        model_ref, loss_fn = weakref.ref(model), _loss_fn(model)  # weak: the cache must not keep it
        positions = _seed_positions(model)

        @tf.function
        def step(x, y, scale, seeds):
            model = model_ref()
            state = [v.value for v in model.non_trainable_variables]
            for position, seed in zip(positions, seeds):
                state[position] = seed
            xs, ys = _split(x, micro_batches), _split(y, micro_batches)
            grads, state = _micro_batch_grads(model, loss_fn, xs, ys, scale, state)
            small = tf.add_n([_sq_norm(g) for g in grads]) / micro_batches
            big = _sq_norm([tf.add_n(list(parts)) / micro_batches for parts in zip(*grads)])
            # One tensor, so one transfer to the host; a non-finite gradient makes a sum non-finite.
            return tf.stack([small, big]), [state[p] for p in positions]

        per_model[micro_batches] = (model.loss, variable_ids, (step, positions))
    return per_model[micro_batches][2]


def _check_micro_batches(micro_batches) -> None:
    if isinstance(micro_batches, bool) or not isinstance(micro_batches, int) or micro_batches < 2:
        raise ValueError(f"micro_batches must be an integer >= 2, got {micro_batches!r}")


def _batch_size(x) -> int:
    import tensorflow as tf

    return int(tf.nest.flatten(x)[0].shape[0])


def micro_batch_sq_norms(model, x, y, micro_batches: int, *, seeds: ProbeSeeds | None = None
                         ) -> tuple[float, float, bool]:
    """Squared gradient norms of one batch split into ``micro_batches`` equal parts.

    Returns ``(mean over micro-batches of |g_small|^2, |mean of micro-batch gradients|^2, all_finite)``
    for the model's compiled loss plus its regularisation losses, at the current weights, in training
    mode, without changing any variable. The graph is traced once per model and batch shape, so this is
    cheap enough to call every few training steps. A caller should drop the batch when ``all_finite``
    is False, as the loss-scale optimizer skips such steps. ``seeds`` carries the dropout state from
    probe to probe; without it the probe starts from the model's state, as the previous one did.

    Raises ValueError if ``micro_batches < 2`` or the batch size is not a multiple of it.
    """
    import tensorflow as tf

    _check_micro_batches(micro_batches)
    size = _batch_size(x)
    if size % micro_batches:
        raise ValueError(f"batch size {size} is not divisible by micro_batches={micro_batches}")
    scale = _loss_scale(model)
    step, positions = _traced_step(model, micro_batches)  # traced once unscaled, once scaled
    seeds = ProbeSeeds() if seeds is None else seeds
    norms, seeds.state = step(tf.nest.map_structure(tf.convert_to_tensor, x), tf.convert_to_tensor(y),
                              None if scale is None else tf.constant(scale, tf.float32),
                              seeds.start(model, positions))
    small, big = norms.numpy().tolist()
    return small, big, math.isfinite(small) and math.isfinite(big)


def batch_estimate(model, x, y, micro_batches: int, *, seeds: ProbeSeeds | None = None,
                   population: int | None = None) -> tuple[float, float, float] | None:
    """``(|G|^2, tr(Sigma), |g_big|^2)`` from one batch at the model's current weights.

    The two unbiased estimates of :func:`two_batch_estimates` with ``b_small = B / micro_batches`` and
    ``b_big = B`` (``population``: the batch was drawn without replacement from that many examples),
    plus the squared norm of the whole batch's gradient; None when a gradient was not finite (a step the
    loss-scale optimizer would skip). ``seeds`` and the errors as :func:`micro_batch_sq_norms`.
    """
    small, big, finite = micro_batch_sq_norms(model, x, y, micro_batches, seeds=seeds)
    if not finite:
        return None
    size = _batch_size(x)
    return (*two_batch_estimates(small, big, size / micro_batches, size, population), big)


def measure(model, dataset, *, micro_batches: int = 4, max_batches: int | None = None,
            population: int | None = None) -> NoiseEstimate:
    """Gradient noise scale of a compiled ``model`` at its current weights, averaged over batches.

    ``dataset`` is a ``tf.data.Dataset`` or any iterable of ``(x, y)`` batches. The first batch fixes
    the batch size ``B``; batches of another size (a short last batch) and batches with non-finite
    gradients are skipped. At most ``max_batches`` batches are read. Nothing in the model changes; the
    dropout masks differ from batch to batch (:class:`ProbeSeeds`). ``population`` is the number of
    examples each batch is drawn from without replacement (the training set, for an epoch's batches),
    None for i.i.d. batches; see :func:`two_batch_estimates`.

    Raises ValueError for bad ``micro_batches``, a ``B`` not divisible by it, or no usable batch.

    Example::

        import keras, numpy as np
        x = np.random.default_rng(0).normal(size=(1024, 8)).astype("float32")
        y = (x[:, 0] > 0).astype("int32")
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, 1024, 128)]
        estimate = measure(model, batches, micro_batches=8)
        print(f"B_simple = {estimate.gns:.1f} from {estimate.samples} batches")
    """
    _check_micro_batches(micro_batches)
    acc, size, seeds = NoiseAccumulator(ema=None), None, ProbeSeeds()
    for batch in itertools.islice(dataset, max_batches):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("dataset must yield (x, y) batches")
        x, y = batch
        size = size or _batch_size(x)
        if _batch_size(x) != size:
            continue
        estimate = batch_estimate(model, x, y, micro_batches, seeds=seeds, population=population)
        if estimate is not None:
            acc.update(*estimate[:2])
    if acc.count == 0:
        raise ValueError("no usable batch: the dataset was empty or all its gradients were non-finite")
    return NoiseEstimate(acc.grad_sq, acc.trace_sigma, size, micro_batches, acc.count)
