"""Learning-rate scaling rules: how the rate that works at one batch size moves to another.

Each rule gives the factor from the rate at ``base_batch`` to the rate at ``batch_size``:

- ``none``: 1;
- ``linear`` (Goyal et al. 2017): ``B / base_batch``;
- ``sqrt`` (Krizhevsky 2014; Hoffer et al. 2017): ``sqrt(B / base_batch)``;
- ``noise`` (McCandlish et al. 2018, §2.2, SGD): :func:`noise_rule`, linear while ``B`` is well below the
  noise scale, flat beyond it;
- ``adam`` (Li et al. 2024, "Surge phenomenon", Adam): :func:`adam_rule`, rising as ``sqrt(B)`` while ``B``
  is well below the noise scale, peaking at ``B = B_noise`` and falling beyond it.

``noise`` and ``adam`` need the noise scale ``B_noise`` (``--noise-scale``; ``kerasbatch suggest`` measures it).
"""

from __future__ import annotations

import math


def noise_rule(noise_scale: float, base_batch: int, batch_size: int) -> float:
    """How much the best SGD step grows from ``base_batch`` to ``batch_size``, given the noise scale.

    ``ε_opt(B) = ε_max / (1 + B_noise/B)`` (McCandlish et al. 2018, eq. 2.6), so the ratio is
    ``(1 + B_noise/base_batch) / (1 + B_noise/batch_size)``.

    Example:
        >>> round(noise_rule(100.0, 32, 64), 3), round(noise_rule(100.0, 32, 100_000), 2)
        (1.61, 4.12)
    """
    return (1.0 + noise_scale / base_batch) / (1.0 + noise_scale / batch_size)


def adam_rule(noise_scale: float, base_batch: int, batch_size: int) -> float:
    """How much Adam's best step changes from ``base_batch`` to ``batch_size``, given the noise scale.

    ``ε_opt(B) = ε_max / (½(√(B_noise/B) + √(B/B_noise)))`` (Li et al. 2024, eq. 8): the ratio of that at
    ``batch_size`` to that at ``base_batch``. It is largest at ``B = B_noise``.

    Example:
        >>> round(adam_rule(128.0, 32, 128), 3), round(adam_rule(128.0, 32, 512), 3)
        (1.25, 1.0)
    """
    def surge(batch: float) -> float:
        return 0.5 * (math.sqrt(noise_scale / batch) + math.sqrt(batch / noise_scale))

    return surge(base_batch) / surge(batch_size)


RULES = {
    "none": lambda noise_scale, base, batch: 1.0,
    "linear": lambda noise_scale, base, batch: batch / base,
    "sqrt": lambda noise_scale, base, batch: math.sqrt(batch / base),
    "noise": noise_rule,
    "adam": adam_rule,
}
"""Each rule's factor ``f(noise_scale, base_batch, batch_size)``."""

NEEDS_NOISE_SCALE = ("noise", "adam")


def adam_or_noise(optimizer: str) -> str:
    """The rule the learner uses for ``optimizer``: Li et al.'s for Adam and AdamW, McCandlish et al.'s for SGD."""
    return "adam" if optimizer in ("adam", "adamw") else "noise"


def scale_factor(rule: str, base_batch: int, batch_size: int, noise_scale: float | None = None) -> float:
    """The factor from the rate at ``base_batch`` to the rate at ``batch_size`` under ``rule``."""
    return RULES[rule](noise_scale, base_batch, batch_size)
