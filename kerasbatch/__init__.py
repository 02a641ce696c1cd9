"""kerasbatch: measure what batch size does to Keras training, then choose it.

From a notebook, with a model-building function and arrays::

    import kerasbatch
    suggestion = kerasbatch.suggest(build_model, x, y, validation_data=(x_val, y_val), target=0.9)
    table = kerasbatch.sweep(build_model, x, y, validation_data=(x_val, y_val), batch_sizes=(32, 256))

With configs, as the command line does::

    from kerasbatch import RunConfig, Store
    from kerasbatch.training import train
    result = train.run(RunConfig(batch_size=64), Store("runs", "demo"))

``kerasbatch.suggest`` and ``kerasbatch.sweep`` are the functions of :mod:`kerasbatch.notebook`; the
config-in, store-out versions are :func:`kerasbatch.learner.suggest.suggest` and
:func:`kerasbatch.studies.sweep.sweep`. Importing the package is cheap; TensorFlow is imported when
something trains.
"""

from kerasbatch._version import __version__
from kerasbatch.config.commands import StoreConfig, SweepConfig, TuneConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.errors import KerasbatchError
from kerasbatch.notebook import suggest, sweep
from kerasbatch.store import Store

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
