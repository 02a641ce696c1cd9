"""A ``suggestion.json`` read back: the batch size and learning rate that ``kerasbatch suggest`` chose.

``tune --from-suggestion`` starts its search there (:class:`kerasbatch.config.commands.TuneConfig`). TensorFlow-free
and below :mod:`kerasbatch.config.commands`: it imports nothing of kerasbatch but its errors and the store's file
names.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from kerasbatch.errors import ConfigError
from kerasbatch.store import SUGGESTION


def read_suggestion(path: str | Path) -> tuple[int, float]:
    """``(batch_size, learning_rate)`` of the suggestion at ``path``: the file, or a study folder holding one.

    A missing or unreadable file, or one without a positive integer ``batch_size`` and a positive finite
    ``learning_rate``, is a :class:`ConfigError` naming the file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SUGGESTION
    try:
        suggestion = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"from_suggestion: no suggestion at {str(path)!r} (kerasbatch suggest writes "
                          f"{SUGGESTION} in its study)") from None
    except OSError as exc:
        raise ConfigError(f"from_suggestion: cannot read {str(path)!r}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"from_suggestion: {str(path)!r} is not valid JSON") from None
    batch_size = suggestion.get("batch_size") if isinstance(suggestion, dict) else None
    rate = suggestion.get("learning_rate") if isinstance(suggestion, dict) else None
    batch_ok = isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > 0
    rate_ok = isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate < math.inf
    if not (batch_ok and rate_ok):
        raise ConfigError(f"from_suggestion: {str(path)!r} holds no suggestion (a positive integer "
                          "batch_size and a positive learning_rate)")
    return batch_size, float(rate)


def centred(lr_range: tuple[float, float], rate: float) -> tuple[float, float]:
    """``lr_range`` moved so that its geometric centre is ``rate``, its width on a log scale kept.

    A range centred on ``rate`` already is returned as it is, so that centring twice changes nothing.

    Example:
        >>> centred((0.001, 0.1), 0.05)
        (0.005, 0.5)
    """
    low, high = lr_range
    if math.isclose(math.sqrt(low * high), rate, rel_tol=1e-9):
        return low, high
    half_width = math.sqrt(high / low)
    return rate / half_width, rate * half_width
