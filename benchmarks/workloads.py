"""The workloads the learner's benchmarks share: digits with the small convnet and SGD, MNIST-1D (20k)
with the 1-D convnet and Adam, and a generated tabular set (scikit-learn's ``make_classification``,
48,000 rows) with an MLP and Adam; each benchmark sets its own epoch budget."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig

TABULAR_ROWS = 48_000

WORKLOADS = {
    "digits": RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="cnn"), target=0.95,
                        optim=OptimConfig(optimizer="sgd", learning_rate=0.01), precision="float32"),
    "mnist1d": RunConfig(data=DataConfig(dataset="mnist1d"), model=ModelConfig(name="cnn1d"), target=0.85,
                         optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
    "tabular": RunConfig(model=ModelConfig(name="mlp", widths=(256, 128)), target=0.85,
                         optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
}


def tabular_npz(folder: str | Path) -> str:
    """``npz:PATH`` of the generated tabular set (written once into ``folder``): 10 classes, 40 features."""
    from sklearn.datasets import make_classification

    path = Path(folder) / f"tabular-{TABULAR_ROWS}.npz"
    if not path.is_file():
        x, y = make_classification(n_samples=TABULAR_ROWS + 8_000, n_features=40, n_informative=24,
                                   n_redundant=8, n_classes=10, n_clusters_per_class=2, class_sep=1.5,
                                   flip_y=0.02, random_state=0)
        x = x.astype("float32")
        np.savez(path, x_train=x[:TABULAR_ROWS], y_train=y[:TABULAR_ROWS], x_test=x[TABULAR_ROWS:],
                 y_test=y[TABULAR_ROWS:])
    return f"npz:{path}"


def workloads(folder: str | Path | None = None, **epochs: int) -> dict[str, RunConfig]:
    """The workloads named in ``epochs`` with their epoch budgets, e.g. ``workloads(digits=20, mnist1d=10)``;
    the tabular set is generated into ``folder`` (a temporary one by default)."""
    out = {}
    for name, budget in epochs.items():
        run = dataclasses.replace(WORKLOADS[name], epochs=budget)
        if name == "tabular":
            data = DataConfig(dataset=tabular_npz(folder or tempfile.mkdtemp(prefix="kerasbatch-tabular-")))
            run = dataclasses.replace(run, data=data)
        out[name] = run
    return out


def evaluation_steps(n_train: int, batch_size: int) -> int:
    """Steps between evaluations at ``batch_size``: about eight an epoch's worth of examples, the same
    number of examples apart at every size, so times to target are exact within an eighth of an epoch."""
    return max(1, round(n_train / 8 / batch_size))
