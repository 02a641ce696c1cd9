"""Typed, validated configuration for runs and studies.

Every command builds one of these frozen dataclasses, from flags or from a YAML file whose keys are the
flag names. Validation lives here, at the edge: a bad value raises :class:`ConfigError` naming the field,
so the rest of the code can trust what it is given. ``RunConfig.to_dict()`` is what a run folder stores
as ``config.json``; ``RunConfig.from_dict`` rebuilds the run exactly.

This module must stay free of TensorFlow: the CLI imports it to show defaults in ``--help``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from kerasbatch.checks import check, choice, int_tuple, number, plain, positive_int
from kerasbatch.errors import ConfigError

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCALINGS = ("none", "linear", "sqrt", "noise")
SCHEDULES = ("constant", "step", "cosine")
DIAGNOSTICS = ("gns", "grad_norm", "weight_distance", "step_time", "loss_scale")
DEFAULT_BATCH_SIZES = (32, 64, 128, 256, 512, 1024)
STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass(frozen=True)
class DataConfig:
    """Where the examples come from and how they are fed.

    Attributes:
        dataset: ``dots``, ``digits``, ``mnist1d``, ``tfds:NAME`` or ``npz:PATH``.
        val_fraction: share of the training split held out for validation when the set has no
            validation split of its own.
        augment: CIFAR-style augmentation (pad 4, random crop, horizontal flip) on training images.
        dots_samples: number of points in the generated ``dots`` set.
        dots_noise: standard deviation of the noise added to the ``dots`` points.
        mnist1d_samples: examples in the generated ``mnist1d`` set (train and test together).
        data_seed: seed of the generated data and of the held-out splits, the same for every run.
        data_dir: TensorFlow Datasets data directory (where to look for prepared data).
        download: allow TensorFlow Datasets to download and prepare a missing set.
    """

    dataset: str = "digits"
    val_fraction: float = 0.1
    augment: bool = False
    dots_samples: int = 2000
    dots_noise: float = 0.2
    mnist1d_samples: int = 20000
    data_seed: int = 0
    # Where data lives is not part of what a run *is*: moving the data must not make a finished run
    # look different, so these two are left out of the run's identity.
    data_dir: str | None = field(default=None, metadata={"identity": False})
    download: bool = field(default=False, metadata={"identity": False})

    def __post_init__(self) -> None:
        check(isinstance(self.dataset, str) and self.dataset != "", "dataset", "must be a name", self.dataset)
        number("val_fraction", self.val_fraction, 0.0, 0.5, open_low=True)
        positive_int("dots_samples", self.dots_samples)
        positive_int("mnist1d_samples", self.mnist1d_samples)
        check(self.mnist1d_samples >= 100, "mnist1d_samples", "must be at least 100", self.mnist1d_samples)
        number("dots_noise", self.dots_noise, 0.0, 10.0)
        ok = isinstance(self.data_seed, int) and not isinstance(self.data_seed, bool) and self.data_seed >= 0
        check(ok, "data_seed", "must be a non-negative integer", self.data_seed)


@dataclass(frozen=True)
class ModelConfig:
    """Which network to train.

    Attributes:
        name: a built-in model (``logreg``, ``mlp``, ``cnn``, ``resnet20/32/56``) or ``package.module:function``.
        widths: hidden layer widths of ``mlp``.
        dropout: dropout rate where the model has dropout.
    """

    name: str = "mlp"
    widths: tuple[int, ...] = (128, 64)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check(isinstance(self.name, str) and self.name != "", "model", "must be a name", self.name)
        object.__setattr__(self, "widths", int_tuple("widths", self.widths))
        number("dropout", self.dropout, 0.0, 0.95)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and learning-rate rule.

    Attributes:
        optimizer: ``sgd``, ``adam`` or ``adamw``.
        learning_rate: the base rate, the one meant for ``base_batch``.
        momentum: SGD momentum.
        nesterov: use Nesterov momentum with SGD.
        weight_decay: weight decay; Keras 3 applies it to the weights directly (decoupled, as in AdamW)
            for every optimizer, so ``adam`` with weight decay behaves like ``adamw``.
        lr_scaling: how the rate follows the batch size: ``none``, ``linear`` (Goyal et al. 2017,
            ``lr = base_lr * B / base_batch``), ``sqrt`` (``lr = base_lr * sqrt(B / base_batch)``) or
            ``noise`` (McCandlish et al. 2018, §2.2: ``lr = base_lr * (1 + B_noise/base_batch) /
            (1 + B_noise/B)``, linear while ``B`` is well below the noise scale, flat beyond it).
        base_batch: the batch size ``learning_rate`` is meant for.
        noise_scale: the gradient noise scale ``B_noise`` the ``noise`` rule uses (``kerasbatch
            suggest`` measures it).
        warmup_epochs: epochs of gradual linear warm-up to the scaled rate.
        schedule: decay after warm-up: ``constant``, ``step`` (×0.1 at 50% and 75%) or ``cosine``.
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_scaling: str = "linear"
    base_batch: int = 32
    noise_scale: float | None = None
    warmup_epochs: float = 0.0
    schedule: str = "constant"

    def __post_init__(self) -> None:
        choice("optimizer", self.optimizer, OPTIMIZERS)
        number("learning_rate", self.learning_rate, 0.0, math.inf, open_low=True)
        number("momentum", self.momentum, 0.0, 0.999)
        number("weight_decay", self.weight_decay, 0.0, 1.0)
        choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        positive_int("base_batch", self.base_batch)
        if self.noise_scale is not None:
            number("noise_scale", self.noise_scale, 0.0, math.inf, open_low=True)
        check(self.lr_scaling != "noise" or self.noise_scale is not None, "lr_scaling",
              "noise needs a noise_scale (--noise-scale, measured by kerasbatch suggest)", self.lr_scaling)
        number("warmup_epochs", self.warmup_epochs, 0.0, 1e4)
        choice("schedule", self.schedule, SCHEDULES)

    def scaled_learning_rate(self, batch_size: int) -> float:
        """The peak rate for ``batch_size`` under this config's scaling rule."""
        ratio = batch_size / self.base_batch
        if self.lr_scaling == "noise":
            return self.learning_rate * noise_rule(self.noise_scale, self.base_batch, batch_size)
        factor = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[self.lr_scaling]
        return self.learning_rate * factor


def noise_rule(noise_scale: float, base_batch: int, batch_size: int) -> float:
    """How much the best SGD step grows from ``base_batch`` to ``batch_size``, given the noise scale.

    ``ε_opt(B) = ε_max / (1 + B_noise/B)`` (McCandlish et al. 2018, eq. 2.6), so the ratio is
    ``(1 + B_noise/base_batch) / (1 + B_noise/batch_size)``.

    Example:
        >>> round(noise_rule(100.0, 32, 64), 3), round(noise_rule(100.0, 32, 100_000), 2)
        (1.61, 4.12)
    """
    return (1.0 + noise_scale / base_batch) / (1.0 + noise_scale / batch_size)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; stored as the run's ``config.json``.

    Attributes:
        batch_size: the global batch size under study (every training step sees exactly this many).
        epochs: training epochs.
        precision: ``auto``, ``float32``, ``mixed_float16`` or ``mixed_bfloat16``.
        seed: seed for weights, shuffling and augmentation; with it, CPU runs are repeatable.
        target: validation accuracy whose first arrival is recorded (epoch, step, examples, seconds).
        stop_at_target: end the run when ``target`` is reached.
        diagnostics: measurements taken during training (see ``DIAGNOSTICS``); empty for none.
        diagnostics_every: take the expensive diagnostics every this many steps.
        micro_batches: micro-batches a measured batch is split into for the gradient noise scale.
        strategy: ``tf.distribute`` strategy: ``default``, ``mirrored`` or ``multiworker``; ``batch_size``
            is the global batch, split across its replicas.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = 32
    epochs: int = 10
    precision: str = "auto"
    seed: int = 0
    target: float | None = None
    stop_at_target: bool = False
    diagnostics: tuple[str, ...] = DIAGNOSTICS
    diagnostics_every: int = 32
    micro_batches: int = 4
    strategy: str = "default"

    def __post_init__(self) -> None:
        positive_int("batch_size", self.batch_size)
        positive_int("epochs", self.epochs)
        choice("precision", self.precision, PRECISIONS)
        ok = isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0
        check(ok, "seed", "must be a non-negative integer", self.seed)
        if self.target is not None:
            number("target", self.target, 0.0, 1.0, open_low=True)
        check(not self.stop_at_target or self.target is not None, "stop_at_target", "needs a target", True)
        object.__setattr__(self, "diagnostics", parse_diagnostics(self.diagnostics))
        positive_int("diagnostics_every", self.diagnostics_every)
        positive_int("micro_batches", self.micro_batches)
        check(self.micro_batches >= 2, "micro_batches", "must be at least 2", self.micro_batches)
        choice("strategy", self.strategy, STRATEGIES)

    @property
    def learning_rate(self) -> float:
        """The peak learning rate of this run, after the scaling rule."""
        return self.optim.scaled_learning_rate(self.batch_size)

    def with_batch_size(self, batch_size: int) -> RunConfig:
        return dataclasses.replace(self, batch_size=batch_size)

    def to_dict(self) -> dict[str, Any]:
        return plain(dataclasses.asdict(self))

    def identity(self) -> dict[str, Any]:
        """The settings that make two runs the same run (data location left out)."""
        out = self.to_dict()
        for section, cls in (("data", DataConfig), ("model", ModelConfig), ("optim", OptimConfig)):
            for f in fields(cls):
                if not f.metadata.get("identity", True):
                    out[section].pop(f.name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Rebuild a config from ``to_dict()`` output (as stored in ``config.json``)."""
        data = dict(data)
        sections = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                kwargs[key] = _build(sections[key], value, prefix=f"{key}.")
            else:
                kwargs[key] = value
        return _build(cls, kwargs)

    @classmethod
    def from_flat(cls, options: Mapping[str, Any]) -> RunConfig:
        """Build from flat option names, as the CLI and YAML files spell them (``model``, ``lr`` …).

        Keys that are ``None`` take the default. Unknown keys are a :class:`ConfigError`.
        """
        sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "optim": {}, "run": {}}
        for key, value in options.items():
            if value is None:
                continue
            if key not in FLAT_FIELDS:
                raise ConfigError(f"unknown setting {key!r}")
            section, name = FLAT_FIELDS[key]
            sections[section][name] = value
        run = dict(sections.pop("run"))
        run["data"] = _build(DataConfig, sections["data"])
        run["model"] = _build(ModelConfig, sections["model"])
        run["optim"] = _build(OptimConfig, sections["optim"])
        return _build(cls, run)


def _section_fields(cls: type, section: str, rename: Mapping[str, str] = {}) -> dict[str, tuple[str, str]]:
    return {rename.get(f.name, f.name): (section, f.name) for f in fields(cls)}


# Flat option name -> (section, field). The flat names are the CLI flags (dashes become underscores).
FLAT_FIELDS: dict[str, tuple[str, str]] = {
    **_section_fields(DataConfig, "data"),
    **_section_fields(ModelConfig, "model", {"name": "model"}),
    **_section_fields(OptimConfig, "optim"),
    **{f.name: ("run", f.name) for f in fields(RunConfig) if f.name not in ("data", "model", "optim")},
}


def flat_defaults() -> dict[str, Any]:
    """Default value of every flat option, for help texts."""
    defaults = {"data": DataConfig(), "model": ModelConfig(), "optim": OptimConfig(), "run": RunConfig()}
    return {key: getattr(defaults[section], name) for key, (section, name) in FLAT_FIELDS.items()}


def _build(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown setting {prefix}{unknown[0]!r}")
    coerced = {k: _coerce(known[k], v) for k, v in values.items()}
    return cls(**coerced)


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Turn the loose types YAML and JSON give into the declared ones (lists → tuples, 1 → 1.0)."""
    kind = str(f.type)
    if "tuple" in kind and isinstance(value, list):
        return tuple(value)
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind.startswith("bool") and not isinstance(value, bool):
        raise ConfigError(f"{f.name} must be true or false, got {value!r}")
    return value


def parse_diagnostics(value: Any) -> tuple[str, ...]:
    """``"all"``, ``"none"``, ``"gns,grad_norm"`` or a list → a tuple of known diagnostic names."""
    if isinstance(value, str):
        if value == "all":
            return DIAGNOSTICS
        if value == "none":
            return ()
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"diagnostics must be all, none or a list of names, got {value!r}")
    names = tuple(value)
    for name in names:
        choice("diagnostics", name, DIAGNOSTICS)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class SweepConfig:
    """One run per batch size, every other setting identical.

    Attributes:
        run: the settings shared by every run (its ``batch_size`` is ignored).
        batch_sizes: the batch sizes to train at.
    """

    run: RunConfig = field(default_factory=RunConfig)
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES

    def __post_init__(self) -> None:
        sizes = int_tuple("batch_sizes", self.batch_sizes)
        check(len(set(sizes)) == len(sizes), "batch_sizes", "must not repeat a size", self.batch_sizes)
        object.__setattr__(self, "batch_sizes", tuple(sorted(sizes)))

    def runs(self) -> list[RunConfig]:
        return [self.run.with_batch_size(b) for b in self.batch_sizes]


TUNERS = ("random", "bayesian", "hyperband")


@dataclass(frozen=True)
class Objective:
    """What a search optimises (and what ``export --best`` ranks by).

    Attributes:
        field: the run summary's field it is read from.
        direction: ``max`` or ``min``: which way is better.
    """

    field: str
    direction: str


OBJECTIVES: dict[str, Objective] = {
    "val_accuracy": Objective("best_val_accuracy", "max"),
    "seconds_to_target": Objective("seconds_to_target", "min"),
}


@dataclass(frozen=True)
class TuneConfig:
    """A KerasTuner search in which the batch size and the learning rate are hyperparameters.

    Attributes:
        run: the settings shared by every trial (its ``batch_size`` and ``optim.learning_rate`` are
            what the search varies). The searched rate goes through ``run.optim.lr_scaling`` like any
            base rate; to search the rate applied at each batch size, as ``kerasbatch tune`` does by
            default, give ``run`` an ``OptimConfig(lr_scaling="none")``.
        tuner: ``random``, ``bayesian`` or ``hyperband``.
        max_trials: trials to run (for ``hyperband``: the cap on its brackets' trials).
        batch_sizes: the batch-size choices (global batch sizes).
        lr_range: ``(low, high)`` of the learning rate, searched on a log scale.
        objective: ``val_accuracy`` (maximise the best validation accuracy) or ``seconds_to_target``
            (minimise the time to ``run.target``; a trial that never gets there scores worse than any
            that does).
        overwrite: start the search over instead of continuing it.
    """

    run: RunConfig = field(default_factory=RunConfig)
    tuner: str = "random"
    max_trials: int = 10
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    lr_range: tuple[float, float] = (1e-3, 1.0)
    objective: str = "val_accuracy"
    overwrite: bool = False

    def __post_init__(self) -> None:
        choice("tuner", self.tuner, TUNERS)
        positive_int("max_trials", self.max_trials)
        sizes = int_tuple("batch_sizes", self.batch_sizes)
        check(len(set(sizes)) == len(sizes), "batch_sizes", "must not repeat a size", self.batch_sizes)
        object.__setattr__(self, "batch_sizes", tuple(sorted(sizes)))
        low_high = tuple(self.lr_range) if isinstance(self.lr_range, (list, tuple)) else ()
        ok = len(low_high) == 2 and all(isinstance(v, (int, float)) and 0 < v < math.inf for v in low_high)
        check(ok and low_high[0] < low_high[1], "lr_range", "must be two rates low,high with 0 < low < high",
               self.lr_range)
        object.__setattr__(self, "lr_range", tuple(float(v) for v in low_high))
        choice("objective", self.objective, tuple(OBJECTIVES))
        check(self.objective != "seconds_to_target" or self.run.target is not None, "objective",
               "seconds_to_target needs a --target", self.objective)


@dataclass(frozen=True)
class StoreConfig:
    """Where a study's runs are kept: ``<out>/<study>/<run_id>/``."""

    out: Path = Path("runs")
    study: str = "default"

    def __post_init__(self) -> None:
        check(isinstance(self.out, (str, Path)) and str(self.out) != "", "out", "must be a folder path", self.out)
        object.__setattr__(self, "out", Path(self.out))
        ok = isinstance(self.study, str) and self.study not in ("", ".", "..") and "/" not in self.study
        check(ok, "study", "must be a plain folder name", self.study)

    @property
    def study_dir(self) -> Path:
        return self.out / self.study
