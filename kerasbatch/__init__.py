"""kerasbatch: measure what batch size does to Keras training, then choose it.

From a notebook, with a model-building function and arrays::

    import kerasbatch
    suggestion = kerasbatch.suggest(build_model, x, y, validation_data=(x_val, y_val), target=0.9)
    table = kerasbatch.sweep(build_model, x, y, validation_data=(x_val, y_val), batch_sizes=(32, 256))

With configs, as the command line does::

    from kerasbatch import RunConfig, Store
    from kerasbatch.train import run
    result = run(RunConfig(batch_size=64), Store("runs", "demo"))

``kerasbatch.sweep`` and ``kerasbatch.suggest`` are the functions of :mod:`kerasbatch.notebook`; the
modules of the same names (config in, results in the store) are imported by their full names, e.g.
``from kerasbatch.sweep import sweep``. Importing the package is cheap; TensorFlow is imported when
something trains.
"""

# The verb modules first (they are cheap to import), so that the names below are the functions
# and a later ``import kerasbatch.sweep`` finds the module in sys.modules without rebinding them.
import kerasbatch.suggest  # noqa: F401
import kerasbatch.sweep  # noqa: F401
from kerasbatch.command_config import StoreConfig, SweepConfig, TuneConfig
from kerasbatch.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.errors import KerasbatchError
from kerasbatch.notebook import suggest, sweep
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
    "TuneConfig",
    "__version__",
    "suggest",
    "sweep",
]
