"""The command line: click commands that build a config, call the Python API and print (errors: exit 2).

Nothing here imports TensorFlow at import time, so ``kerasbatch --help`` is instant."""

from kerasbatch.cli.app import main

__all__ = ["main"]
