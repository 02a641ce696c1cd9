"""KerasTuner search over batch size and learning rate: the hypermodel, the tuners, chief/worker."""

from kerasbatch.tuning.tune import BatchSizeHyperModel

__all__ = ["BatchSizeHyperModel"]
