"""The global state a run borrows and gives back: the policy, the seeds, op determinism and Keras's session."""

import keras
import numpy as np
import tensorflow as tf

from kerasbatch.training import scope as global_state, train
from kerasbatch.config.commands import SweepConfig
from kerasbatch.store import Store
from kerasbatch.studies.sweep import sweep

from tests.conftest import dots_run


def test_runs_in_one_process_leave_no_models_or_keras_state_behind(tmp_path):
    import gc

    def live_models():
        gc.collect()
        return {id(o) for o in gc.get_objects() if isinstance(o, keras.Model)}

    before = live_models()  # other tests' fixtures may hold models of their own
    results = sweep(SweepConfig(run=dots_run(epochs=1, diagnostics=("gns", "weight_distance")),
                                batch_sizes=(16, 32, 64)), Store(tmp_path, "m"), verbose=0)
    assert all(r.ok and r.model is None for r in results)
    assert live_models() - before == set()
    assert keras.layers.Dense(1).name == "dense"  # Keras's session (and its name counters) was cleared


def test_a_run_gives_back_the_callers_policy_seed_and_op_determinism(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    tf.random.set_seed(123)
    expected = tf.random.uniform([4]).numpy()  # the caller's first draw after seeding
    tf.random.set_seed(123)
    assert not global_state.op_determinism()
    try:
        train.run(dots_run(epochs=1, diagnostics=()), Store(tmp_path, "p"), verbose=0)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        np.testing.assert_array_equal(tf.random.uniform([4]).numpy(), expected)
        assert not global_state.op_determinism()  # on inside the run only
    finally:
        keras.mixed_precision.set_global_policy("float32")
        tf.random.set_seed(None)
