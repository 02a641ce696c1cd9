"""The global state a run borrows and gives back: the precision policy, the random seeds, op determinism."""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf


@contextmanager
def run_scope(policy: str, seed: int, fresh: bool = True) -> Iterator[None]:
    """Borrow the global state a run needs (policy, seeds, op determinism) and give it back after.

    ``fresh=False`` keeps Keras's session: for a model that was built before the scope opened.
    """
    was_deterministic = op_determinism()
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed, previous_policy = tf_global_seed(), keras.mixed_precision.global_policy()
    if fresh:
        keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        if not was_deterministic:
            op_determinism(turn_off=True)
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if fresh:
            # Keras keeps per-session state (layer names, graphs); without this, memory grows per run.
            keras.backend.clear_session()
            gc.collect()
        # After clear_session, which resets both.
        tf.random.set_seed(tf_seed)
        keras.mixed_precision.set_global_policy(previous_policy)


def tf_global_seed() -> int | None:
    """TensorFlow's global seed (``tf.random.set_seed``'s), read through its public v1 getter."""
    try:
        return tf.compat.v1.random.get_seed(None)[0]  # advances the op seeds, which set_seed resets
    except RuntimeError:  # op determinism is on and there is no global seed: none to give back
        return None


def op_determinism(turn_off: bool = False) -> bool:
    """Whether TensorFlow's op determinism is on (after turning it off, with ``turn_off``).

    TensorFlow 2.16-2.21 export ``enable_op_determinism`` but neither its getter nor its opposite: the one
    private TensorFlow call in kerasbatch, kept here.
    """
    from tensorflow.python.framework import config

    if turn_off:
        config.disable_op_determinism()
    return config.is_op_determinism_enabled()
