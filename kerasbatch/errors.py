"""The one error type a user can fix, and its few specialisations.

Anything raised as a :class:`KerasbatchError` is the user's to mend (a bad flag, a missing file, an
unknown dataset): the CLI prints it as one ``error: …`` line and exits with status 2. Everything else
is a bug and keeps its traceback.
"""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name): enough for a one-line report."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class KerasbatchError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


class ConfigError(KerasbatchError):
    """A configuration value is missing, unknown or out of range."""


class DataError(KerasbatchError):
    """A dataset cannot be found, loaded or used as asked."""


class StoreError(KerasbatchError):
    """The run store cannot be written, or holds a run that conflicts with the one asked for."""
