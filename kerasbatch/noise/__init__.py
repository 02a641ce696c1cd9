"""The gradient noise scale: estimators (numpy) and the probe that measures it on a model."""
