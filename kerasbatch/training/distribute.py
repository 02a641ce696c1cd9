"""``tf.distribute`` strategies by name: ``default``, ``mirrored`` (all local devices), ``multiworker``.

The batch size under study is always the global batch: each of the strategy's replicas gets
``batch_size / replicas`` examples a step, so the batch size must divide evenly.
"""

from __future__ import annotations

import functools

from kerasbatch.config.run import STRATEGIES
from kerasbatch.errors import ConfigError


@functools.lru_cache(maxsize=None)
def get_strategy(name: str):
    """The strategy called ``name``, made once per process (making one claims the devices)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        # Reads the cluster from TF_CONFIG; without it this process is a cluster of one.
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")


def check_batch(name: str, batch_size: int) -> int:
    """The number of replicas; a batch that does not split evenly across them is a usage error."""
    replicas = get_strategy(name).num_replicas_in_sync
    if batch_size % replicas:
        raise ConfigError(f"batch size {batch_size} does not split across {replicas} replicas of the {name} strategy")
    return replicas
