"""A study file: shared settings, batch sizes, named arms and repeats, validated where it is read.

A study file is YAML whose keys are the flat setting names of a run (as ``--config`` files spell them),
plus the study's own keys::

    study: lr-scaling                 # the study folder under --out (default: the file's name; +"-quick")
    batch_sizes: [32, 256, 1024]
    repeats: 3                        # seeds per setting: seed, seed+1, ... (default 3)
    dataset: digits                   # shared by every run
    epochs: 20
    arms:                             # named overrides of the shared settings (default: one arm, base)
      - {name: none, lr_scaling: none}
      - {name: linear+warmup, lr_scaling: linear, warmup_epochs: 5}
    quick:                            # applied with --quick: the CPU-sized version of the study
      epochs: 3
      batch_sizes: [32, 1024]
      repeats: 2                      # the quick version's seeds (default 2)

Every mistake (an unknown key, an arm without a name, two arms of one name, a bad value in any arm) is a
:class:`~kerasbatch.errors.ConfigError` naming where it is, raised before anything runs or is written.
TensorFlow-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from kerasbatch.config.checks import check, int_tuple, load_yaml, positive_int
from kerasbatch.config.commands import StoreConfig
from kerasbatch.config.run import DEFAULT_BATCH_SIZES, FLAT_FIELDS, RunConfig
from kerasbatch.errors import ConfigError

DEFAULT_ARM = "base"
FULL_REPEATS = 3
QUICK_REPEATS = 2
# What a study file may say besides the run settings; the quick block may change all but these two.
STUDY_KEYS = ("study", "batch_sizes", "repeats", "arms", "quick")
_NOT_IN_QUICK = ("study", "arms", "quick")
# What varies between the runs of one arm: an arm cannot fix it.
_VARIED = ("batch_size", "seed")
_ARM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")


@dataclass(frozen=True)
class Arm:
    """A named variant of the study: flat settings that replace the shared ones for its runs."""

    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyRun:
    """One run of a study: which arm, batch size and seed, and its config."""

    run_id: str
    arm: str
    config: RunConfig


@dataclass(frozen=True)
class StudyConfig:
    """Every arm × batch size × seed of a study, trained as runs of one study folder.

    Attributes:
        name: the study folder's name (under the output folder).
        settings: the flat settings every run shares (``seed`` is the first seed).
        batch_sizes: the batch sizes every arm trains at, ascending.
        arms: the arms, in the file's order; one arm ``base`` when the file has none.
        repeats: seeds per (arm, batch size).
        quick: whether the file's ``quick:`` block was applied.
    """

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    arms: tuple[Arm, ...] = (Arm(DEFAULT_ARM),)
    repeats: int = FULL_REPEATS
    quick: bool = False

    def __post_init__(self) -> None:
        StoreConfig(study=self.name)  # a plain folder name, or a ConfigError naming "study"
        sizes = int_tuple("batch_sizes", self.batch_sizes)
        check(len(set(sizes)) == len(sizes), "batch_sizes", "must not repeat a size", self.batch_sizes)
        object.__setattr__(self, "batch_sizes", tuple(sorted(sizes)))
        positive_int("repeats", self.repeats)
        check(len(self.arms) > 0, "arms", "must name at least one arm", list(self.arms))
        for arm in self.arms:
            self.arm_config(arm, self.batch_sizes[0])  # every arm's settings are checked here, once

    @property
    def seeds(self) -> tuple[int, ...]:
        first = self.settings.get("seed") or 0
        return tuple(range(first, first + self.repeats))

    def arm_config(self, arm: Arm, batch_size: int, seed: int | None = None) -> RunConfig:
        """The run config of ``arm`` at ``batch_size`` (and ``seed``, by default the first)."""
        flat = {**self.settings, **arm.overrides, "batch_size": batch_size}
        if seed is not None:
            flat["seed"] = seed
        try:
            return RunConfig.from_flat(flat)
        except ConfigError as exc:
            if arm.name == DEFAULT_ARM and not arm.overrides:
                raise
            raise ConfigError(f"arm {arm.name!r}: {exc}") from None

    def runs(self) -> Iterator[StudyRun]:
        """Every run, seed by seed: an interrupted study has whole sweeps of its first seeds."""
        for seed in self.seeds:
            for arm in self.arms:
                for batch_size in self.batch_sizes:
                    yield StudyRun(f"{arm.name}-bs{batch_size}-s{seed}", arm.name,
                                   self.arm_config(arm, batch_size, seed))

    def shared_settings(self) -> dict[str, Any]:
        """What ``study.json`` records, and every later run of the study must agree on: the settings the
        runs share (their batch size and seed vary), each arm's overrides, and quick or full."""
        shared = _common([self.arm_config(arm, self.batch_sizes[0]).identity() for arm in self.arms])
        shared.pop("batch_size")
        shared.pop("seed")
        arms = [{"name": arm.name, **arm.overrides} for arm in self.arms]
        return {**shared, "arms": arms, "quick": self.quick}


def _common(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """The (nested) settings on which every config agrees; those an arm changes are left out."""
    first, rest = configs[0], configs[1:]
    common = {}
    for key, value in first.items():
        others = [config.get(key) for config in rest]
        if isinstance(value, dict) and all(isinstance(other, dict) for other in others):
            common[key] = _common([value, *others])
        elif all(other == value for other in others):
            common[key] = value
    return common


def load_study(path: str | Path, *, quick: bool = False, repeats: int | None = None) -> StudyConfig:
    """Read and check a study file; ``quick`` applies its ``quick:`` block; ``repeats`` overrides the
    file's (``repeats``, default 3; with ``quick`` the block's ``repeats``, default 2)."""
    path = Path(path)
    data = load_yaml(path)
    try:
        return study_from_dict(data, name=path.stem, quick=quick, repeats=repeats)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def study_from_dict(data: Mapping[str, Any], *, name: str, quick: bool = False,
                    repeats: int | None = None) -> StudyConfig:
    """A :class:`StudyConfig` from a study file's contents (see the module docstring)."""
    data = dict(data)
    _check_keys(data, STUDY_KEYS, "")
    block = data.pop("quick", None) or {}
    check(isinstance(block, dict), "quick", "must be a mapping of setting: value", block)
    fixed = [k for k in _NOT_IN_QUICK if k in block]
    check(not fixed, "quick", "cannot change study, arms or quick (one study folder per file and mode)", fixed)
    _check_keys(block, tuple(k for k in STUDY_KEYS if k not in _NOT_IN_QUICK), "quick: ")
    # The file's repeats are the full study's; the quick one has its own (from its block, else 2).
    full_repeats = data.pop("repeats", FULL_REPEATS)
    positive_int("repeats", full_repeats)  # checked even when --quick or the command line overrides it
    quick_repeats = block.get("repeats", QUICK_REPEATS)
    positive_int("quick: repeats", quick_repeats)
    if quick:
        data.update({k: v for k, v in block.items() if k != "repeats"})
    arms = _arms(data.pop("arms", None))
    name = data.pop("study", name)
    check(isinstance(name, str), "study", "must be a plain folder name", name)
    name += "-quick" if quick else ""  # other settings, so a folder of its own beside the full study
    batch_sizes = data.pop("batch_sizes", DEFAULT_BATCH_SIZES)
    in_file = quick_repeats if quick else full_repeats
    check("batch_size" not in data, "batch_size", "is what a study varies; list batch_sizes instead",
          data.get("batch_size"))
    return StudyConfig(name=name, settings=data, batch_sizes=batch_sizes, arms=arms,
                       repeats=in_file if repeats is None else repeats, quick=quick)


def _check_keys(data: Mapping[str, Any], extra: tuple[str, ...], where: str) -> None:
    unknown = sorted(k for k in data if k not in FLAT_FIELDS and k not in extra)
    if unknown:
        raise ConfigError(f"{where}unknown setting {unknown[0]!r}")


def _arms(value: Any) -> tuple[Arm, ...]:
    """The ``arms:`` list: each a mapping with a unique plain ``name`` and flat setting overrides."""
    if value is None:
        return (Arm(DEFAULT_ARM),)
    check(isinstance(value, list) and len(value) > 0, "arms", "must be a non-empty list of {name: ..., ...}", value)
    arms: list[Arm] = []
    for index, item in enumerate(value):
        where = f"arms[{index}]"
        check(isinstance(item, dict), where, "must be a mapping {name: ..., setting: value}", item)
        item = {str(k).replace("-", "_"): v for k, v in item.items()}
        name = item.pop("name", None)
        check(name is not None, where, "needs a name", item)
        ok = isinstance(name, str) and _ARM_NAME.fullmatch(name) is not None
        check(ok, f"{where}.name", "must be letters, digits and _ . + = - (it names run folders)", name)
        check(name not in [a.name for a in arms], f"{where}.name", "repeats the name of an earlier arm", name)
        unknown = sorted(k for k in item if k not in FLAT_FIELDS)
        if unknown:
            raise ConfigError(f"arm {name!r}: unknown setting {unknown[0]!r}")
        varied = [k for k in _VARIED if k in item]
        check(not varied, f"arm {name!r}", "cannot set batch_size or seed (the study varies them)", varied)
        arms.append(Arm(name, item))
    return tuple(arms)
