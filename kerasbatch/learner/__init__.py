"""The learner: a hardware profile, the prediction from a noise scale, the suggestion."""
