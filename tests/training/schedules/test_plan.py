"""The largest batch a changing schedule may reach by default."""

from kerasbatch.training.schedules.plan import default_max_batch


def test_default_cap():
    assert default_max_batch(1293) == 160  # at least 8 steps per epoch, a multiple of 8
    assert default_max_batch(100_000, profiled_max=2048) == 2048
