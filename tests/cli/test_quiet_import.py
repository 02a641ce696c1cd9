"""TensorFlow's start-up chatter is held back; real errors are not."""

from __future__ import annotations

from kerasbatch.cli.quiet_import import _chatter


def test_tensorflow_load_chatter_is_recognised_and_real_errors_are_not():
    chatter = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795628414.195023    7867 port.cc:153] oneDNN custom operations are on. You may see",
        "W0000 00:00:1795628414.195023    7867 cpu_feature_guard.cc:1] something",
    ]
    no_gpu = "E0000 00:00:1795628419.245793 7867 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error"
    assert all(_chatter(line, have_gpu=False) for line in chatter + [no_gpu])
    assert not _chatter(no_gpu, have_gpu=True)
    assert not _chatter("E0000 00:00:1.0 1 op_kernel.cc:1] OOM when allocating tensor", have_gpu=False)
    assert not _chatter("Traceback (most recent call last):", have_gpu=False)
