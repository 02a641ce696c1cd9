"""Gradient noise scale and gradient norm, measured every N steps on micro-batches at the same weights."""

from __future__ import annotations

import math
from typing import Iterator

import keras

from kerasbatch.optim.state import optimizer_steps
from kerasbatch.noise.estimators import NoiseAccumulator, expected_sq_norm
from kerasbatch.noise.probe import ProbeSeeds, batch_estimate


def micro_batch_plan(batch_size: int, micro_batches: int) -> tuple[int, int]:
    """``(k, examples)``: the most micro-batches ≤ ``micro_batches`` that split the batch evenly.

    When no count from ``micro_batches`` down to 2 divides the batch (a prime batch size), the batch is
    cut to the largest multiple of ``micro_batches``. ``(0, 0)`` when the batch is too small to split.
    """
    for k in range(micro_batches, 1, -1):
        if batch_size % k == 0:
            return k, batch_size
    if batch_size >= 2 * micro_batches:
        return micro_batches, batch_size - batch_size % micro_batches
    return 0, 0


class GradientNoise(keras.callbacks.Callback):
    """Writes ``grad_norm`` and (with ``noise=True``) ``gns``, ``grad_sq``, ``trace_sigma`` into the epoch logs.

    At every ``every``-th optimizer step (the first step included) it draws ``probe_batches`` consecutive
    batches of the training batch size from ``batches`` (disjoint within an epoch), splits the probe into
    ``micro_batches`` parts and takes their gradients at the current weights without changing any
    variable (:func:`kerasbatch.noise.probe.micro_batch_sq_norms`). It never touches the batches the model
    trains on, so the training trajectory is the same with or without it. Steps are counted from the
    optimizer's own count, so a ``fit`` that continues a model keeps the rhythm.

    The defaults (every 128 steps, a probe of two training batches in two micro-batches of the training
    size) spend about 1% of the training compute on probes: a probe costs 1.3 training steps of CPU on
    the digits cnn and 1.7 on a 28x28 cnn. Two training-size micro-batches give the ``|G|^2`` estimate
    the least variance for the examples probed: its variance falls at least as fast as ``1/B`` with the
    probe size ``B``, and small micro-batches run less efficiently. ``ema`` = 0.81 a measurement averages
    over about five measurements (a time constant of about 640 steps): a measurement half as often as
    every 64 steps keeps the smoothed value's spread and takes twice as long to follow a change.

    - ``grad_norm``: mean L2 norm of the batch gradient over the epoch's measurements (for a probe
      joined or cut to another size, ``sqrt(E|g_B|²)`` at the training batch size from the estimates).
    - ``grad_sq``, ``trace_sigma``: McCandlish et al.'s unbiased estimates of ``|G|^2`` and ``tr(Σ)``,
      each smoothed with an exponential moving average; ``gns`` = their ratio, taken last.

    An epoch shorter than ``every`` steps may hold no measurement: it logs the latest values rather than
    pay for one more. Measurements whose gradients are not finite (a float16 overflow the loss-scale
    optimizer would skip) are dropped; :attr:`estimates` holds the raw ``(grad_sq, trace_sigma)`` of each
    kept measurement of the current ``fit``, in order.

    Args:
        batches: an endless iterator of ``(x, y)`` batches of the training batch size.
        micro_batches: micro-batches per probe (at least 2).
        every: measure every this many steps.
        noise: also estimate the noise scale (``False`` for the gradient norm alone).
        ema: smoothing of the two noise-scale parts, per measurement.
        batch_norm_micro_batch: the smallest micro-batch for a model with batch normalization. Each
            micro-batch is normalised with its own statistics, which inflates ``tr(Σ)`` as micro-batches
            shrink, so such a model gets fewer, larger micro-batches (never fewer than 2); below twice
            this size, a measurement joins more probe batches to reach two micro-batches of it.
        population: the training-set size the batches are drawn from without replacement (corrects
            ``grad_sq`` and ``trace_sigma``, see :func:`kerasbatch.noise.estimators.two_batch_estimates`; a probe
            never joins more batches than fit in it); None treats batches as i.i.d.
        probe_batches: training batches joined into one probe.
        preconditioned: measure the gradients Adam steps along, each divided by Adam's second moment
            (the model's optimizer must be Adam or AdamW; measurements start after its first step).

    ``gns_micro_batch``, the micro-batch size of the latest measurement, is logged with the noise scale.
    When the training batch changes between ``fit`` calls (:meth:`set_batch_size`), probes still come
    from ``batches`` at the starting size (the noise scale does not depend on the batch it is measured
    at); ``grad_norm`` is then given at the new training batch, from the estimates.
    Dropout masks differ from one measurement to the next, also between measurements at the same
    weights (:class:`kerasbatch.noise.probe.ProbeSeeds`).
    """

    @classmethod
    def from_run(cls, config, dataset) -> GradientNoise:
        """The run's measurement: its settings, probes from :func:`probe_batches`, its diagnostics."""
        return cls(probe_batches(config, dataset), micro_batches=config.micro_batches, every=config.diagnostics_every,
                   noise="gns" in config.diagnostics, population=dataset.n_train)

    @classmethod
    def from_batches(cls, batches, **kwargs) -> GradientNoise:
        """Measured on the examples a ``fit`` trains on: probes of the starting batch size drawn from
        ``batches`` (a :class:`~kerasbatch.data.resizable.ResizableBatches`) with a seed of their own."""
        return cls(batches.probes(batches.batch_size, seed=batches.seed + 1), population=batches.n, **kwargs)

    def __init__(self, batches: Iterator, micro_batches: int = 2, every: int = 128, noise: bool = True,
                 ema: float = 0.81, batch_norm_micro_batch: int = 32, population: int | None = None,
                 probe_batches: int = 2, preconditioned: bool = False):
        super().__init__()
        self.batches = batches
        self.population = population
        self.micro_batches = micro_batches
        self.probe_batches = probe_batches
        self.batch_norm_micro_batch = batch_norm_micro_batch
        self.every = every
        self.noise = noise
        self.ema = ema
        self.preconditioned = preconditioned
        self.batch_size: int | None = None  # the probe's own until set_batch_size
        self.on_train_begin()

    def set_batch_size(self, batch_size: int) -> None:
        """The training batch from the next step on: ``grad_norm`` is given at this size."""
        self.batch_size = batch_size

    def on_train_begin(self, logs=None):
        self.accumulator = NoiseAccumulator(self.ema)
        self.estimates: list[tuple[float, float]] = []
        self._step = optimizer_steps(self.model)
        self._norms: list[float] = []
        self._last_norm = math.nan
        self.micro_batch = math.nan
        self._normalises = self.model is not None and has_batch_norm(self.model)
        self._seeds = ProbeSeeds()

    def on_epoch_begin(self, epoch, logs=None):
        self._norms = []

    def on_train_batch_end(self, batch, logs=None):
        if self._step % self.every == 0:
            self.measure()
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["grad_norm"] = sum(self._norms) / len(self._norms) if self._norms else self._last_norm
        if self.noise:
            logs["gns"] = self.accumulator.gns
            logs["grad_sq"] = self.accumulator.grad_sq
            logs["trace_sigma"] = self.accumulator.trace_sigma
            # |G|: the true gradient's norm without the sampling noise that inflates grad_norm at small
            # batches (NaN while the |G|² estimate is not positive).
            grad_sq = self.accumulator.grad_sq
            logs["true_grad_norm"] = math.sqrt(grad_sq) if grad_sq > 0 else math.nan
            logs["gns_micro_batch"] = self.micro_batch

    def measure(self) -> None:
        """Take one measurement at the model's current weights."""
        x, y, size = self._probe_batch()
        parts = self.micro_batches
        if self._normalises:
            parts = max(2, min(parts, int(x.shape[0]) // self.batch_norm_micro_batch))
        k, examples = micro_batch_plan(int(x.shape[0]), parts)
        if k == 0:
            return
        if examples < x.shape[0]:
            x, y = x[:examples], y[:examples]
        # A probe joined past the end of a small training set is no longer drawn without replacement.
        population = self.population if self.population and self.population >= examples else None
        estimate = batch_estimate(self.model, x, y, k, seeds=self._seeds, population=population,
                                  preconditioned=self.preconditioned)
        if estimate is None:
            return
        grad_sq, trace_sigma, big = estimate
        size = self.batch_size or size
        if examples != size:
            # A joined or cut probe, or a training batch that changed: the training batch's |g_B|² from
            # the estimates. The two estimates solve the measured squared norms exactly, so where the
            # micro-batch is the training batch (the default probe) this is their measured mean, with no
            # estimation noise added.
            big = expected_sq_norm(grad_sq, trace_sigma, size, population)
        self._last_norm, self.micro_batch = math.sqrt(max(big, 0.0)), examples // k
        self._norms.append(self._last_norm)
        self.estimates.append((grad_sq, trace_sigma))
        self.accumulator.update(grad_sq, trace_sigma)

    def _probe_batch(self):
        """``(x, y, training batch size)``: ``probe_batches`` batches joined (as many as fit in the
        population), and for batch normalization enough that two micro-batches of its minimum fit."""
        x, y = next(self.batches)
        size = int(x.shape[0])
        joined = self.probe_batches
        if self.population:
            joined = max(1, min(joined, self.population // size))
        if self._normalises:
            joined = max(joined, math.ceil(2 * self.batch_norm_micro_batch / size))
        if joined > 1:
            more = [next(self.batches) for _ in range(joined - 1)]
            x = keras.ops.concatenate([x, *(b[0] for b in more)])
            y = keras.ops.concatenate([y, *(b[1] for b in more)])
        return x, y, size


def has_batch_norm(model) -> bool:
    """Whether ``model`` (or a model nested in it) has a batch normalization layer."""
    layers = list(getattr(model, "layers", []))
    while layers:
        layer = layers.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            return True
        layers.extend(getattr(layer, "layers", []))
    return False


def probe_batches(config, dataset) -> Iterator:
    """Endless training-size batches for gradient measurements, apart from the batches trained on.

    A separate pipeline with its own shuffle seed: measuring must not consume the training stream,
    or the run would differ with diagnostics on and off.
    """
    from kerasbatch.data.datasets import pipeline

    batches = pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True,
                       seed=config.seed + 1, augment=config.data.augment)
    return iter(batches.repeat())
