"""The package's version, in the one place that setup.py and the run summaries read it from."""

__version__ = "0.1.0"
