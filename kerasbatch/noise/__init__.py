"""The gradient noise scale: estimators (numpy) and the probe that measures it on a model."""

from kerasbatch.noise.estimators import NoiseAccumulator, NoiseEstimate, two_batch_estimates
from kerasbatch.noise.probe import measure

__all__ = ["NoiseAccumulator", "NoiseEstimate", "measure", "two_batch_estimates"]
