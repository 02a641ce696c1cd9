"""kerasbatch: measure what batch size does to Keras training, then choose it.

The Python API mirrors the command line::

    from kerasbatch import RunConfig, SweepConfig, Store, sweep, train
    result = train.run(RunConfig(batch_size=64), Store("runs", "demo"))

Importing the package is cheap; TensorFlow is imported by the modules that train.
"""

from kerasbatch.config import DataConfig, ModelConfig, OptimConfig, RunConfig, StoreConfig, SweepConfig
from kerasbatch.errors import KerasbatchError
from kerasbatch.store import Store

__version__ = "0.1.0"

__all__ = [
    "DataConfig",
    "KerasbatchError",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "Store",
    "StoreConfig",
    "SweepConfig",
    "__version__",
]
