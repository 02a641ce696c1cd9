"""Click options made from the config dataclasses, and ``--config FILE`` as click's ``default_map``.

A setting is declared once, as a field of a dataclass in :mod:`kerasbatch.config.run` (type, default, help,
choices); this module turns fields into ``--flags`` with ``show_default=True``. Precedence is click's
own: a flag on the command line, else the YAML file's value (``--config``, loaded into
``ctx.default_map`` before any other option is read), else the field's default.

TensorFlow-free: ``kerasbatch --help`` builds every option.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import Any

import click

from kerasbatch.config import checks
from kerasbatch.config import run as cfg
from kerasbatch.errors import ConfigError


class SettingType(click.ParamType):
    """A click type from one of :mod:`kerasbatch.config.checks`'s parsers; lists from YAML pass through it too."""

    def __init__(self, name: str, parse: Callable[[str, Any], Any]) -> None:
        self.name, self._parse = name, parse

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value  # a YAML list or a default: the config's own validation checks it
        try:
            return self._parse(param.name if param is not None else self.name, value)
        except ConfigError as exc:
            self.fail(str(exc).split(", got ")[0], param, ctx)


class FromText(click.ParamType):
    """``base`` for text from the command line; a YAML value keeps its own type, so that the config's
    validation sees ``epochs: 7.5`` as the mistake it is instead of click quietly making it 7."""

    def __init__(self, base: click.ParamType) -> None:
        self.base, self.name = base, base.name

    def convert(self, value, param, ctx):
        return self.base.convert(value, param, ctx) if isinstance(value, str) else value


FORMATS = ("markdown", "csv", "html", "json", "latex")  # what tables and profiles print as
INT_LIST = SettingType("INTEGERS", checks.parse_int_list)
FLOAT_PAIR = SettingType("LOW,HIGH", checks.parse_float_pair)
DIAGNOSTICS = SettingType("NAMES", lambda _, text: cfg.parse_diagnostics(text))

# A field's type, as written in its annotation, -> the click type of its flag.
_TYPES = {"int": FromText(click.INT), "float": FromText(click.FLOAT), "str": FromText(click.STRING),
          "Path": FromText(click.Path()),
          "tuple[int, ...]": INT_LIST, "tuple[float, float]": FLOAT_PAIR, "tuple[str, ...]": DIAGNOSTICS}


def option(name: str, f: dataclasses.Field, **extra: Any) -> Callable:
    """The ``--flag`` of config field ``f`` under the flat setting ``name``."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = str(f.type).replace(" | None", "")
    flag = "--" + name.replace("_", "-")
    help_text = f.metadata.get("help", "").format(**_registry_names())
    kwargs: dict[str, Any] = {"default": default, "show_default": True, "help": help_text}
    if kind == "bool":
        flag = f"{flag}/--no-{name.replace('_', '-')}"
    elif f.metadata.get("choices"):
        kwargs["type"] = click.Choice(f.metadata["choices"])
    else:
        kwargs["type"] = _TYPES[kind]
    kwargs.update(extra)
    return click.option(flag, *f.metadata.get("aliases", ()), name, **kwargs)


@functools.cache
def _registry_names() -> dict[str, str]:
    from kerasbatch.data.datasets import DATASET_NAMES
    from kerasbatch.models import MODEL_NAMES

    return {"datasets": ", ".join(DATASET_NAMES), "models": ", ".join(MODEL_NAMES)}


def _field(cls: type, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(cls) if f.name == name)


_SECTIONS = {"data": cfg.DataConfig, "model": cfg.ModelConfig, "optim": cfg.OptimConfig, "run": cfg.RunConfig}


def run_options(exclude: Iterable[str] = ()) -> list[Callable]:
    """One flag per flat setting of :class:`~kerasbatch.config.run.RunConfig` (see ``config.FLAT_FIELDS``)."""
    skip = set(exclude)
    return [option(flat, _field(_SECTIONS[section], name)) for flat, (section, name) in cfg.FLAT_FIELDS.items()
            if flat not in skip]


def fields_options(cls: type, names: Iterable[str]) -> list[Callable]:
    """Flags for the named fields of a study config (``SweepConfig.batch_sizes``, ``TuneConfig.tuner`` …)."""
    return [option(name, _field(cls, name)) for name in names]


def load_config_file(ctx: click.Context, param: click.Parameter, path: str | None) -> str | None:
    """``--config FILE``: its settings become the command's defaults; flags given still win.

    Eager, so that it runs before every other option takes its value. A key that names no option of
    this command is a usage error.
    """
    if path is None or ctx.resilient_parsing:
        return path
    settings = checks.load_yaml(path)
    known = {p.name for p in ctx.command.params if p.name != param.name}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} in {path}")
    ctx.default_map = {**(ctx.default_map or {}), **settings}
    return path


CONFIG_OPTION = click.option("--config", "config_file", type=click.Path(), default=None, is_eager=True,
                             expose_value=False, callback=load_config_file,
                             help="YAML file of settings (keys are these option names); flags win over it.")


def apply(options: Iterable[Callable]) -> Callable:
    """Decorate a command with ``options``, in the order given."""
    options = list(options)

    def decorate(fn: Callable) -> Callable:
        for add in reversed(options):
            fn = add(fn)
        return fn

    return decorate
