"""The one error type a user can fix, and its few specialisations.

Anything raised as a :class:`KerasbatchError` is the user's to mend (a bad flag, a missing file, an
unknown dataset): the CLI prints it as one ``error: …`` line and exits with status 2. Everything else
is a bug and keeps its traceback.
"""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type name): enough for a one-line report."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says a batch did not fit. TensorFlow raises ``ResourceExhaustedError`` for an
    allocation that fails in a kernel, but an error crossing a compiled (XLA) or Python-function boundary
    arrives as another type with the original status in its message. (TensorFlow is imported only here,
    when a training failure is classified.)"""
    import tensorflow as tf

    text = str(exc)
    return isinstance(exc, tf.errors.ResourceExhaustedError) or any(
        mark in text for mark in ("RESOURCE_EXHAUSTED", "ResourceExhaustedError", "OOM when allocating"))


class KerasbatchError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""


class ConfigError(KerasbatchError):
    """A configuration value is missing, unknown or out of range."""


class DataError(KerasbatchError):
    """A dataset cannot be found, loaded or used as asked."""


class StoreError(KerasbatchError):
    """The run store cannot be written, or holds a run that conflicts with the one asked for."""
