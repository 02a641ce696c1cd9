"""KerasTuner search over batch size and learning rate: the hypermodel, the tuners, chief/worker."""

from kerasbatch.tuning.tuners import start_at_defaults
from kerasbatch.tuning.tune import BatchSizeHyperModel
from kerasbatch.tuning.wrap import BatchSizeAndRate

__all__ = ["BatchSizeAndRate", "BatchSizeHyperModel", "start_at_defaults"]
