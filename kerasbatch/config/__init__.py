"""Every settings dataclass and its validation; TensorFlow-free, at the bottom of the package."""
