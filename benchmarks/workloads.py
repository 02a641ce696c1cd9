"""The workloads the learner's benchmarks share; each benchmark sets its own epoch budget.

- ``digits``: scikit-learn's digits, the small convnet, SGD;
- ``digits-mlp``: the same data, a 64-unit MLP, SGD, target 0.95 (the learner's default target);
- ``mnist1d``: MNIST-1D (20k), the 1-D convnet, Adam;
- ``dots``: the generated half-moons, the default MLP, SGD;
- ``tabular``: a generated tabular set (``make_classification``, 48,000 rows), an MLP, Adam;
- ``shapes``: a generated image set (16×16 bars, crosses, boxes and blobs at random places, with noise;
  12,000 images), the small convnet, Adam.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig

TABULAR_ROWS = 48_000
SHAPES_IMAGES = 12_000

WORKLOADS = {
    "digits": RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="cnn"), target=0.95,
                        optim=OptimConfig(optimizer="sgd", learning_rate=0.01), precision="float32"),
    "mnist1d": RunConfig(data=DataConfig(dataset="mnist1d"), model=ModelConfig(name="cnn1d"), target=0.85,
                         optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
    "digits-mlp": RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="mlp", widths=(64,)),
                            target=0.95, optim=OptimConfig(optimizer="sgd", learning_rate=0.01), precision="float32"),
    "dots": RunConfig(data=DataConfig(dataset="dots"), model=ModelConfig(name="mlp"), target=0.95,
                      optim=OptimConfig(optimizer="sgd", learning_rate=0.01), precision="float32"),
    "shapes": RunConfig(model=ModelConfig(name="cnn"), target=0.9,
                        optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
    "tabular": RunConfig(model=ModelConfig(name="mlp", widths=(256, 128)), target=0.85,
                         optim=OptimConfig(optimizer="adam", learning_rate=1e-3), precision="float32"),
}


def tabular_npz(folder: str | Path) -> str:
    """``npz:PATH`` of the generated tabular set (written once into ``folder``): 10 classes, 40 features."""
    from sklearn.datasets import make_classification

    path = Path(folder) / f"tabular-{TABULAR_ROWS}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        x, y = make_classification(n_samples=TABULAR_ROWS + 8_000, n_features=40, n_informative=24,
                                   n_redundant=8, n_classes=10, n_clusters_per_class=2, class_sep=1.5,
                                   flip_y=0.02, random_state=0)
        x = x.astype("float32")
        np.savez(path, x_train=x[:TABULAR_ROWS], y_train=y[:TABULAR_ROWS], x_test=x[TABULAR_ROWS:],
                 y_test=y[TABULAR_ROWS:])
    return f"npz:{path}"


def shapes_npz(folder: str | Path) -> str:
    """``npz:PATH`` of the generated image set (written once into ``folder``): four classes of 16×16 shapes."""
    path = Path(folder) / f"shapes-{SHAPES_IMAGES}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        rng = np.random.default_rng(0)
        n = SHAPES_IMAGES + 2_000
        y = rng.integers(0, 4, size=n)
        x = np.zeros((n, 16, 16, 1), dtype="float32")
        for i, label in enumerate(y):
            r, c = rng.integers(2, 12, size=2)
            size = rng.integers(3, 5)
            if label == 0:  # a horizontal bar
                x[i, r, max(0, c - size):c + size, 0] = 1.0
            elif label == 1:  # a cross
                x[i, r, max(0, c - size):c + size, 0] = 1.0
                x[i, max(0, r - size):r + size, c, 0] = 1.0
            elif label == 2:  # a hollow box
                x[i, r - 2:r + 3, c - 2:c + 3, 0] = 1.0
                x[i, r - 1:r + 2, c - 1:c + 2, 0] = 0.0
            else:  # a blob
                x[i, r - 1:r + 2, c - 1:c + 2, 0] = 1.0
        x += rng.normal(0.0, 0.35, size=x.shape).astype("float32")
        np.savez(path, x_train=x[:SHAPES_IMAGES], y_train=y[:SHAPES_IMAGES], x_test=x[SHAPES_IMAGES:],
                 y_test=y[SHAPES_IMAGES:])
    return f"npz:{path}"


GENERATED = {"tabular": tabular_npz, "shapes": shapes_npz}


def workloads(folder: str | Path | None = None, **epochs: int) -> dict[str, RunConfig]:
    """The workloads named in ``epochs`` with their epoch budgets, e.g. ``workloads(digits=20, mnist1d=10)``;
    the generated sets are written into ``folder`` (a temporary one by default)."""
    out = {}
    for name, budget in epochs.items():
        run = dataclasses.replace(WORKLOADS[name], epochs=budget)
        if name in GENERATED:
            data = DataConfig(dataset=GENERATED[name](folder or tempfile.mkdtemp(prefix=f"kerasbatch-{name}-")))
            run = dataclasses.replace(run, data=data)
        out[name] = run
    return out


def evaluation_steps(n_train: int, batch_size: int) -> int:
    """Steps between evaluations at ``batch_size``: about eight an epoch's worth of examples, the same
    number of examples apart at every size, so times to target are exact within an eighth of an epoch."""
    return max(1, round(n_train / 8 / batch_size))
