"""Learning-rate scaling rules: how the rate that works at one batch size moves to another."""

from __future__ import annotations


def noise_rule(noise_scale: float, base_batch: int, batch_size: int) -> float:
    """How much the best SGD step grows from ``base_batch`` to ``batch_size``, given the noise scale.

    ``ε_opt(B) = ε_max / (1 + B_noise/B)`` (McCandlish et al. 2018, eq. 2.6), so the ratio is
    ``(1 + B_noise/base_batch) / (1 + B_noise/batch_size)``.

    Example:
        >>> round(noise_rule(100.0, 32, 64), 3), round(noise_rule(100.0, 32, 100_000), 2)
        (1.61, 4.12)
    """
    return (1.0 + noise_scale / base_batch) / (1.0 + noise_scale / batch_size)
