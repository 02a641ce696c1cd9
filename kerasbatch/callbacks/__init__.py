"""Keras callbacks that measure a run, one measurement each; every one writes into the epoch logs."""

from kerasbatch.callbacks.divergence import StopOnNonFinite
from kerasbatch.callbacks.gradient_noise import GradientNoise, micro_batch_plan
from kerasbatch.callbacks.history_file import HistoryFile
from kerasbatch.callbacks.learning_rate import LearningRateLog
from kerasbatch.callbacks.target import TimeToTarget
from kerasbatch.callbacks.tensorboard_scalars import TensorBoardScalars
from kerasbatch.callbacks.throughput import Throughput
from kerasbatch.callbacks.weight_distance import WeightDistance

__all__ = [
    "GradientNoise",
    "WeightDistance",
    "micro_batch_plan",
    "HistoryFile",
    "LearningRateLog",
    "StopOnNonFinite",
    "TensorBoardScalars",
    "Throughput",
    "TimeToTarget",
]
