"""Batch-size schedules: the plans (when the batch changes, to what, and why) and the callback that
applies one inside a ``fit``; ``AdaptiveBatchSize`` and ``IncreaseBatchSize`` work in any Keras user's code."""

from kerasbatch.training.schedules.callback import AdaptiveBatchSize, BatchSizeSchedule, IncreaseBatchSize

__all__ = ["AdaptiveBatchSize", "BatchSizeSchedule", "IncreaseBatchSize"]
