"""The noise probe: squared gradient norms of a Keras model's micro-batches, and the noise scale from them.

:func:`micro_batch_sq_norms` splits one batch into micro-batches and returns ``|g_small|^2`` and
``|g_big|^2``; :func:`batch_estimate` turns them into ``(|G|^2, tr(Sigma))`` with the math of
:mod:`kerasbatch.noise.estimators`; :func:`measure` averages that over a dataset. TensorFlow is imported when one
of them is called, so this module imports without it.

Measuring goes through ``model.stateless_call``, so it never changes a variable: no BatchNormalization
statistics update, no dropout seed advance. The seed state a probe ends with is kept apart
(:class:`ProbeSeeds`) and carried to the next probe, so successive probes draw new dropout masks. Under
``mixed_float16`` the loss is scaled by the optimizer's loss scale before differentiating (float16
gradients underflow otherwise) and the gradients are unscaled, in float32, before any statistic.

``preconditioned=True`` measures the gradients Adam steps along: each is divided by Adam's
bias-corrected second moment, ``g / (sqrt(v̂) + ε)``, before any statistic (AdaptDL's noise scale for
Adam, Qiao et al. 2021, App. B): a coordinate Adam scales up counts for more, as it does in the step.
The second moment is the one Adam would hold after a step on the probe's whole gradient ``ḡ``,
``v̂ = (β₂ v + (1 - β₂) ḡ²) / (1 - β₂^(t+1))``, one divisor for every micro-batch: early in training, a
coordinate whose past gradients were all zero would otherwise be divided by ``ε`` alone and swamp
every statistic (as it never swamps Adam's step, which includes the current gradient).
"""

from __future__ import annotations

import itertools
import logging
import math
import weakref

from kerasbatch.noise.estimators import NoiseAccumulator, NoiseEstimate, two_batch_estimates
from kerasbatch.noise.preconditioning import precondition


# One traced function per (model, micro-batch count); weak keys so a dropped model frees its graph.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def loss_fn(model):
    """The compiled loss of ``model`` as a function of ``(y_true, y_pred)`` giving the batch mean."""
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
    from kerasbatch.optim.state import loss_scale

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
    """``(step, seed positions)``: the traced measurement for this model and micro-batch count.

    ``step(x, y, scale, seeds, moments)``; ``moments`` None measures the raw gradients, Adam's second
    moments precondition them (a second trace).
    """
    import tensorflow as tf

    logging.getLogger("tensorflow").addFilter(_ONE_TRACE_PER_MODEL)  # once: a filter is added only once
    per_model = _TRACED.setdefault(model, {})
    variable_ids = tuple(id(v) for v in model.trainable_variables + model.non_trainable_variables)
    cached = per_model.get(micro_batches)
    # A recompiled model (new loss) or a changed variable set needs a fresh graph.
    if cached is None or cached[0] is not model.loss or cached[1] != variable_ids:
        model_ref, loss = weakref.ref(model), loss_fn(model)  # weak: the cache must not keep it
        positions = _seed_positions(model)

        @tf.function
        def step(x, y, scale, seeds, moments):
            model = model_ref()
            state = [v.value for v in model.non_trainable_variables]
            for position, seed in zip(positions, seeds):
                state[position] = seed
            xs, ys = _split(x, micro_batches), _split(y, micro_batches)
            grads, state = _micro_batch_grads(model, loss, xs, ys, scale, state)
            if moments is not None:
                grads = precondition(grads, moments)
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


def micro_batch_sq_norms(model, x, y, micro_batches: int, *, seeds: ProbeSeeds | None = None,
                         preconditioned: bool = False) -> tuple[float, float, bool] | None:
    """Squared gradient norms of one batch split into ``micro_batches`` equal parts.

    Returns ``(mean over micro-batches of |g_small|^2, |mean of micro-batch gradients|^2, all_finite)``
    for the model's compiled loss plus its regularisation losses, at the current weights, in training
    mode, without changing any variable. The graph is traced once per model and batch shape, so this is
    cheap enough to call every few training steps. A caller should drop the batch when ``all_finite``
    is False, as the loss-scale optimizer skips such steps. ``seeds`` carries the dropout state from
    probe to probe; without it the probe starts from the model's state, as the previous one did.
    ``preconditioned`` divides the gradients by Adam's second moment first; None then when the model's
    optimizer is not Adam or AdamW, or has not stepped yet (there is no second moment to divide by).

    Raises ValueError if ``micro_batches < 2`` or the batch size is not a multiple of it.
    """
    import tensorflow as tf

    _check_micro_batches(micro_batches)
    size = _batch_size(x)
    if size % micro_batches:
        raise ValueError(f"batch size {size} is not divisible by micro_batches={micro_batches}")
    scale = _loss_scale(model)
    moments = None
    if preconditioned:
        from kerasbatch.optim.state import second_moments

        moments = second_moments(model)
        if moments is None:
            return None
        velocities, beta_2, steps, epsilon = moments
        moments = ([v.value for v in velocities], tf.constant(beta_2, tf.float32),
                   tf.constant(1.0 - beta_2 ** (steps + 1), tf.float32), tf.constant(epsilon, tf.float32))
    step, positions = _traced_step(model, micro_batches)  # traced once unscaled, once scaled
    seeds = ProbeSeeds() if seeds is None else seeds
    norms, seeds.state = step(tf.nest.map_structure(tf.convert_to_tensor, x), tf.convert_to_tensor(y),
                              None if scale is None else tf.constant(scale, tf.float32),
                              seeds.start(model, positions), moments)
    small, big = norms.numpy().tolist()
    return small, big, math.isfinite(small) and math.isfinite(big)


def batch_estimate(model, x, y, micro_batches: int, *, seeds: ProbeSeeds | None = None,
                   population: int | None = None, preconditioned: bool = False) -> tuple[float, float, float] | None:
    """``(|G|^2, tr(Sigma), |g_big|^2)`` from one batch at the model's current weights.

    The two unbiased estimates of :func:`two_batch_estimates` with ``b_small = B / micro_batches`` and
    ``b_big = B`` (``population``: the batch was drawn without replacement from that many examples),
    plus the squared norm of the whole batch's gradient; None when a gradient was not finite (a step the
    loss-scale optimizer would skip) or a preconditioned probe had no second moment yet. ``seeds``,
    ``preconditioned`` and the errors as :func:`micro_batch_sq_norms`.
    """
    norms = micro_batch_sq_norms(model, x, y, micro_batches, seeds=seeds, preconditioned=preconditioned)
    if norms is None:
        return None
    small, big, finite = norms
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
