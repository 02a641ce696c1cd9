"""The diagnostics reach TensorBoard."""


def test_diagnostics_reach_tensorboard(diagnosed):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(diagnosed.path / "tb" / "train")).Reload()
    tags = set(events.Tags()["tensors"]) | set(events.Tags()["scalars"])
    assert {"epoch_gns", "epoch_grad_norm", "epoch_weight_distance", "epoch_lr"} <= tags
