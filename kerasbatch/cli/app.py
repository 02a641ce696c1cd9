"""The ``kerasbatch`` command: parse flags (or a YAML file), build a config, call the API, print.

Every setting's flag comes from its field in :mod:`kerasbatch.config.run` (:mod:`kerasbatch.cli.options`);
``--config FILE`` fills click's ``default_map``, so a flag given wins over the file, which wins over the
field's default. Nothing here imports TensorFlow at import time, so ``kerasbatch --help`` is instant;
the commands that train import it when they run. Every user mistake ends as one ``error: …`` line and
exit status 2; ``--debug`` (or ``KERASBATCH_DEBUG=1``) shows the traceback behind it.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from typing import Any

import click

from kerasbatch.cli import result_commands, train_commands
from kerasbatch.errors import KerasbatchError

# What the group's options set for the command that runs; read again by ``run`` once click has returned.
_session = {"debug": False}


def build_config(command: str, args: list[str]) -> Any:
    """The config ``kerasbatch COMMAND ARGS…`` would run with, built without running anything."""
    with cli.commands[command].make_context(command, list(args)) as ctx:
        return train_commands.CONFIGS[command](ctx.params)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="kerasbatch")
@click.option("--debug", is_flag=True, envvar="KERASBATCH_DEBUG",
              help="Print the traceback behind an error (also KERASBATCH_DEBUG=1).")
def cli(debug: bool) -> None:
    """Measure what batch size does to Keras training, then choose it.

    Train the same model at many batch sizes, compare accuracy, speed, gradient noise and the path
    through weight space, and keep every run in a crash-safe store (runs/STUDY/RUN/).
    """
    _session["debug"] = debug


for _command in (train_commands.train, train_commands.sweep, train_commands.tune, train_commands.profile,
                 train_commands.suggest, train_commands.study, result_commands.export, result_commands.plot,
                 result_commands.report, result_commands.compare):
    cli.add_command(_command)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # Through sys.stderr itself (click.echo would reach under it), so that a live progress line can
    # print the warning above itself instead of being written over.
    print(f"warning: {message}", file=sys.stderr, flush=True)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status (0 ok, 1 a run failed, 2 a usage error)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter hides our output
    _session["debug"] = False
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        result = cli.main(args=argv, prog_name="kerasbatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except KerasbatchError as exc:
        if _session["debug"]:
            traceback.print_exception(exc)
        click.echo(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("error: interrupted; run the same command again to resume", err=True)
        return 130
    finally:
        warnings.showwarning = previous
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
