"""Adam's preconditioner for the noise probe: gradients divided as Adam divides its step.

:mod:`kerasbatch.noise.probe` calls :func:`precondition` inside its traced step; TensorFlow is imported
there, so this module imports without it.
"""

from __future__ import annotations


def precondition(grads, moments):
    """Each micro-batch's gradients divided by ``sqrt(v̂) + ε``, ``v̂`` Adam's second moment after a step
    on the mean gradient (``moments``: ``(v, β₂, 1 - β₂^(t+1), ε)``, tensors)."""
    import tensorflow as tf

    velocities, beta_2, correction, epsilon = moments
    divisors = []
    for v, parts in zip(velocities, zip(*grads)):
        mean = tf.add_n(list(parts)) / len(parts)
        divisors.append(tf.sqrt((beta_2 * tf.cast(v, tf.float32) + (1.0 - beta_2) * tf.square(mean)) / correction)
                        + epsilon)
    return [[g / d for g, d in zip(chain, divisors)] for chain in grads]
