"""The workloads the learner's benchmarks share: digits with the small convnet and SGD, MNIST-1D (20k)
with the 1-D convnet and Adam; each benchmark sets its own epoch budget."""

from __future__ import annotations

import dataclasses

from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig

WORKLOADS = {
    "digits": RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="cnn"), target=0.95,
                        optim=OptimConfig(optimizer="sgd", learning_rate=0.01), precision="float32"),
    "mnist1d": RunConfig(data=DataConfig(dataset="mnist1d"), model=ModelConfig(name="cnn1d"), target=0.85,
                         optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
}


def workloads(**epochs: int) -> dict[str, RunConfig]:
    """The workloads with an epoch budget each, e.g. ``workloads(digits=20, mnist1d=10)``."""
    return {name: dataclasses.replace(run, epochs=epochs[name]) for name, run in WORKLOADS.items()}


def evaluation_steps(n_train: int, batch_size: int) -> int:
    """Steps between evaluations at ``batch_size``: about eight an epoch's worth of examples, the same
    number of examples apart at every size, so times to target are exact within an eighth of an epoch."""
    return max(1, round(n_train / 8 / batch_size))
