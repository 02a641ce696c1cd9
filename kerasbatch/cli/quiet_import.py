"""TensorFlow imported without the lines its C++ side prints while it loads.

Those lines come before TensorFlow's logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` does not hold them
back; they are 200 characters wide and would open every command's output with something a user cannot
act on.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

# absl's notice, INFO and WARNING lines (oneDNN, CUDA stubs), and where there is no GPU the failed
# driver probe.
_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_INFO_OR_WARNING = re.compile(r"^[IW]\d{4} ")
_NO_GPU = re.compile(r"^E\d{4} .*failed call to cuInit")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and look for GPUs) with its load-time chatter kept off stderr.

    Anything else it writes there (a real error) is passed on, and all of it when the import fails.
    """
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no file descriptor 2 to borrow
        import tensorflow  # noqa: F401
        return
    gpus = None  # stays None if the import fails, and then every line is passed on
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines()
            kept = lines if gpus is None else [line for line in lines if not _chatter(line, bool(gpus))]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def _chatter(line: str, have_gpu: bool) -> bool:
    """Whether ``line`` is TensorFlow's load-time noise (see :func:`import_tensorflow_quietly`)."""
    return line == _PREAMBLE or bool(_INFO_OR_WARNING.match(line)) or (not have_gpu and bool(_NO_GPU.match(line)))
