"""Typed, validated configuration of a training run.

Every command builds its config on :class:`RunConfig` (the commands' own settings, such as a sweep's batch
sizes, are in :mod:`kerasbatch.config.commands`), from flags or from a YAML file whose keys are the flag
names. Each setting is declared once, with :func:`setting`: its type, its default and its help text (the
field's ``help`` metadata, which the CLI turns into ``--flag`` help), so a new option touches one place.
Validation lives here too, at the edge: a bad value raises :class:`ConfigError` naming the field,
so the rest of the code can trust what it is given. ``RunConfig.to_dict()`` is what a run folder stores
as ``config.json``; ``RunConfig.from_dict`` rebuilds the run exactly.

This module must stay free of TensorFlow: the CLI imports it to show defaults in ``--help``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from kerasbatch.config import batch_schedules, diagnostics
from kerasbatch.config.checks import check, choice, int_tuple, number, plain, positive_int
from kerasbatch.config.fields import build, check_choices, section_fields, setting
from kerasbatch.config import scaling
from kerasbatch.errors import ConfigError

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCALINGS = tuple(scaling.RULES)
SCHEDULES = ("constant", "step", "cosine")
DIAGNOSTICS = diagnostics.NAMES
DEFAULT_BATCH_SIZES = (32, 64, 128, 256, 512, 1024)
STRATEGIES = ("default", "mirrored", "multiworker")
BATCH_SCHEDULES = batch_schedules.NAMES


@dataclass(frozen=True)
class DataConfig:
    """Where the examples come from and how they are fed (each field's help says what it is)."""

    dataset: str = setting("digits", "Dataset: {datasets}.")
    val_fraction: float = setting(0.1, "Share of the training split held out for validation when the set has none.")
    augment: bool = setting(False, "Pad-4 random crop and horizontal flip on training images (CIFAR-style).")
    dots_samples: int = setting(2000, "Points in the generated dots set.")
    dots_noise: float = setting(0.2, "Standard deviation of the noise of the generated dots set.")
    mnist1d_samples: int = setting(20000, "Examples in the generated mnist1d set (train and test together).")
    data_seed: int = setting(0, "Seed of generated data and held-out splits, the same for every run.")
    # Where data lives is not part of what a run *is*: moving the data must not make a finished run
    # look different, so these two are left out of the run's identity.
    data_dir: str | None = setting(None, "TensorFlow Datasets data directory (where prepared sets are).",
                                   identity=False)
    download: bool = setting(False, "Let TensorFlow Datasets download a missing set (needs network).", identity=False)

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
    """Which network to train (each field's help says what it is)."""

    name: str = setting("mlp", "Model: {models}, or package.module:function.")
    widths: tuple[int, ...] = setting((128, 64), "Hidden layer widths of mlp, e.g. 256,128.")
    dropout: float = setting(0.0, "Dropout rate, where the model has dropout.")

    def __post_init__(self) -> None:
        check(isinstance(self.name, str) and self.name != "", "model", "must be a name", self.name)
        object.__setattr__(self, "widths", int_tuple("widths", self.widths))
        number("dropout", self.dropout, 0.0, 0.95)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer and learning-rate rule (each field's help says what it is).

    Weight decay: Keras 3 applies it to the weights directly (decoupled, as in AdamW) for every
    optimizer, so ``adam`` with weight decay behaves like ``adamw``. The scaling rules (``none``, ``linear``,
    ``sqrt``, ``noise``, ``adam``) are :mod:`kerasbatch.config.scaling`'s.
    """

    optimizer: str = setting("sgd", "Optimizer.", choices=OPTIMIZERS)
    learning_rate: float = setting(0.01, "Base learning rate, meant for --base-batch.")
    momentum: float = setting(0.9, "SGD momentum.")
    nesterov: bool = setting(False, "Nesterov momentum for SGD.")
    weight_decay: float = setting(0.0, "Weight decay (decoupled, applied to the weights).")
    lr_scaling: str = setting("linear", "How the rate follows the batch: none, linear (Goyal et al.), sqrt, "
                                        "noise (McCandlish et al., SGD) or adam (Li et al. 2024); the last two "
                                        "need --noise-scale.", choices=LR_SCALINGS)
    base_batch: int = setting(32, "Batch size the base learning rate is meant for.")
    noise_scale: float | None = setting(None, "Gradient noise scale B_noise for --lr-scaling noise "
                                              "(kerasbatch suggest measures it).")
    warmup_epochs: float = setting(0.0, "Epochs of gradual linear warm-up to the scaled rate.")
    schedule: str = setting("constant", "Decay after warm-up: step (x0.1 at 50% and 75%) or cosine.",
                            choices=SCHEDULES)

    def __post_init__(self) -> None:
        check_choices(self)
        number("learning_rate", self.learning_rate, 0.0, math.inf, open_low=True)
        number("momentum", self.momentum, 0.0, 0.999)
        number("weight_decay", self.weight_decay, 0.0, 1.0)
        positive_int("base_batch", self.base_batch)
        if self.noise_scale is not None:
            number("noise_scale", self.noise_scale, 0.0, math.inf, open_low=True)
        check(self.lr_scaling not in scaling.NEEDS_NOISE_SCALE or self.noise_scale is not None, "lr_scaling",
              f"{self.lr_scaling} needs a noise_scale (--noise-scale, measured by kerasbatch suggest)", self.lr_scaling)
        number("warmup_epochs", self.warmup_epochs, 0.0, 1e4)

    def scaled_learning_rate(self, batch_size: int) -> float:
        """The peak rate for ``batch_size`` under this config's scaling rule (:mod:`kerasbatch.config.scaling`)."""
        return self.learning_rate * scaling.scale_factor(self.lr_scaling, self.base_batch, batch_size, self.noise_scale)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run; stored as the run's ``config.json``.

    ``batch_size`` is the global batch under study: every training step sees exactly this many examples,
    split across the replicas of ``strategy``. With ``seed``, CPU runs are repeatable.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    batch_size: int = setting(32, "Batch size (the global batch, across replicas).")
    epochs: int = setting(10, "Training epochs.")
    precision: str = setting("auto", "Precision policy; auto picks the fast one for this hardware.", choices=PRECISIONS)
    seed: int = setting(0, "Seed of weights, shuffling and augmentation.")
    target: float | None = setting(None, "Validation accuracy whose first arrival is recorded (e.g. 0.95).")
    stop_at_target: bool = setting(False, "End the run when --target is reached.")
    eval_every_steps: int | None = setting(None, "Evaluate on the validation set every N steps (exact steps and "
                                                 "seconds to --target); default: at epoch ends.")
    diagnostics: tuple[str, ...] = setting(DIAGNOSTICS, "all, none, or a list of: " + ", ".join(DIAGNOSTICS) + ".")
    diagnostics_every: int = setting(128, "Probe the gradient noise scale and norm every N steps (a probe costs "
                                          "1-2 training steps).")
    micro_batches: int = setting(2, "Micro-batches per gradient noise probe (two training batches).")
    strategy: str = setting("default", "tf.distribute strategy; the batch size is the global batch across its "
                                       "replicas.", choices=STRATEGIES)
    batch_schedule: str = setting("fixed", "fixed; adaptive (goodput from the noise scale, Pollux); increase (the batch "
                                           "x10 where --schedule step would divide the rate, Smith et al.).",
                                  choices=BATCH_SCHEDULES)
    adapt_every_steps: int | None = setting(None, "adaptive: re-evaluate every N steps (also in mid-epoch) and at "
                                                  "epoch ends; default: four times an epoch at --batch-size.")
    max_batch: int | None = setting(None, "Largest batch of adaptive/increase; default: the profile's largest that "
                                          "fits, else the largest leaving 8 steps per epoch.")

    def __post_init__(self) -> None:
        check_choices(self)
        positive_int("batch_size", self.batch_size)
        positive_int("epochs", self.epochs)
        ok = isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0
        check(ok, "seed", "must be a non-negative integer", self.seed)
        if self.target is not None:
            number("target", self.target, 0.0, 1.0, open_low=True)
        check(not self.stop_at_target or self.target is not None, "stop_at_target", "needs a target", True)
        if self.eval_every_steps is not None:
            positive_int("eval_every_steps", self.eval_every_steps)
        object.__setattr__(self, "diagnostics", parse_diagnostics(self.diagnostics))
        positive_int("diagnostics_every", self.diagnostics_every)
        positive_int("micro_batches", self.micro_batches)
        check(self.micro_batches >= 2, "micro_batches", "must be at least 2", self.micro_batches)
        self._check_batch_schedule()

    def _check_batch_schedule(self) -> None:
        if self.adapt_every_steps is not None:
            positive_int("adapt_every_steps", self.adapt_every_steps)
        if self.max_batch is not None:
            positive_int("max_batch", self.max_batch)
            check(self.max_batch >= self.batch_size, "max_batch", f"must be at least the batch size {self.batch_size}",
                  self.max_batch)
        entry = batch_schedules.REGISTRY[self.batch_schedule]
        if entry.needs_diagnostic:
            name, why = entry.needs_diagnostic
            check(name in self.diagnostics, "batch_schedule", f"{entry.name} needs the {name} diagnostic ({why})",
                  self.batch_schedule)
        if entry.needs_lr_schedule:
            name, why = entry.needs_lr_schedule
            check(self.optim.schedule == name, "batch_schedule", f"{why}: it needs --schedule {name}",
                  self.batch_schedule)

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
                kwargs[key] = build(sections[key], value, prefix=f"{key}.")
            else:
                kwargs[key] = value
        return build(cls, kwargs)

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
        run["data"] = build(DataConfig, sections["data"])
        run["model"] = build(ModelConfig, sections["model"])
        run["optim"] = build(OptimConfig, sections["optim"])
        return build(cls, run)


# Flat option name -> (section, field). The flat names are the CLI flags (dashes become underscores).
FLAT_FIELDS: dict[str, tuple[str, str]] = {
    **section_fields(DataConfig, "data"),
    **section_fields(ModelConfig, "model", {"name": "model"}),
    **section_fields(OptimConfig, "optim"),
    **{f.name: ("run", f.name) for f in fields(RunConfig) if f.name not in ("data", "model", "optim")},
}


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
