"""Keras callbacks that measure a run, one measurement each; every one writes into the epoch logs."""

from kerasbatch.callbacks.divergence import StopOnNonFinite
from kerasbatch.callbacks.history_file import HistoryFile
from kerasbatch.callbacks.learning_rate import LearningRateLog, applied_learning_rate, loss_scale
from kerasbatch.callbacks.target import TimeToTarget
from kerasbatch.callbacks.throughput import Throughput

__all__ = [
    "HistoryFile",
    "LearningRateLog",
    "StopOnNonFinite",
    "Throughput",
    "TimeToTarget",
    "applied_learning_rate",
    "loss_scale",
]
