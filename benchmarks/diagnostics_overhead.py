"""Throughput cost of kerasbatch's diagnostics: plain ``model.fit`` against the fit a kerasbatch run does.

Both fits train the same model on the same data at the same batch size; the kerasbatch one carries every
callback a run has with the default settings (throughput, divergence, learning rate, gradient noise scale
and gradient norm every 32 steps with 4 micro-batches, weight distance, history file, TensorBoard).
Each repeat builds both models, warms them up for one epoch (graph tracing is not throughput) and then
times the same number of epochs, alternating which goes first, all in this one process. The last line is
the median ratio of kerasbatch's throughput to plain Keras's.

The default data are MNIST-sized (28×28×1 images, 10 classes, 8192 training examples, generated here so
no download is needed): 128 steps an epoch at batch 64. ``--data digits`` uses scikit-learn's 1,294
training digits instead: epochs of 20 steps, where the fixed per-epoch costs (a noise measurement at
least once an epoch, the history file) weigh most.

    python benchmarks/diagnostics_overhead.py [--data synthetic|digits] [--repeats 5] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kerasbatch import data, train  # noqa: E402
from kerasbatch.config import DataConfig, ModelConfig, RunConfig  # noqa: E402


class Trainer:
    """One compiled model and its fit arguments; ``with_callbacks`` gives it kerasbatch's callbacks."""

    def __init__(self, config: RunConfig, dataset: data.Dataset, folder: Path | None):
        self.config, self.dataset = config, dataset
        self.model = train.compile_model(config, dataset)
        self.callbacks = list(train.build_callbacks(config, dataset, folder).values()) if folder else []
        self.stream = data.pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True, seed=0)
        self.val = data.pipeline(dataset.x_val, dataset.y_val, train.EVAL_BATCH, training=False)

    def samples_per_second(self, epochs: int) -> tuple[float, float]:
        """(samples per wall-clock second, samples per CPU second of this process) over ``epochs``."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.model.fit(self.stream, validation_data=self.val, epochs=epochs, verbose=0, shuffle=False,
                       callbacks=self.callbacks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        samples = epochs * (self.dataset.n_train // self.config.batch_size) * self.config.batch_size
        return samples / wall, samples / cpu


def synthetic_digits(n_train: int = 8192, n_held: int = 1024, seed: int = 0) -> data.Dataset:
    """MNIST-sized images: a fixed random template per class plus noise, as uint8."""
    rng = np.random.default_rng(seed)
    templates = rng.uniform(0, 255, size=(10, 28, 28, 1))

    def split(n):
        labels = rng.integers(0, 10, n)
        images = np.clip(templates[labels] * 0.5 + rng.normal(0, 60, (n, 28, 28, 1)), 0, 255)
        return images.astype(np.uint8), labels.astype("int64")

    return data.Dataset("synthetic", *split(n_train), *split(n_held), *split(n_held), num_classes=10)


def memory_cost(params: int, config: RunConfig) -> str:
    weights_mb = params * 4 / 2**20
    # weight distance keeps one copy of the weights; a noise measurement holds one gradient per micro-batch
    return (f"memory: {params} parameters; weight copy {weights_mb:.2f} MiB + "
            f"{config.micro_batches} micro-batch gradients {config.micro_batches * weights_mb:.2f} MiB "
            f"during a measurement + one probe batch of {config.batch_size} examples")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--data", choices=("synthetic", "digits"), default="synthetic")
    args = parser.parse_args()
    config = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name=args.model),
                       batch_size=args.batch_size, epochs=args.epochs + 1, precision="float32")
    dataset = synthetic_digits() if args.data == "synthetic" else data.load(config.data)
    print(f"{dataset.name} {args.model}, batch {args.batch_size}, {dataset.n_train // args.batch_size} steps/epoch, "
          f"{args.epochs} timed epochs, diagnostics {','.join(config.diagnostics)} every "
          f"{config.diagnostics_every} steps, {config.micro_batches} micro-batches")
    speeds: dict[str, list[tuple[float, float]]] = {"plain": [], "kerasbatch": []}
    with tempfile.TemporaryDirectory() as tmp, train.run_scope("float32", 0):
        trainers = {"plain": Trainer(config, dataset, None), "kerasbatch": Trainer(config, dataset, Path(tmp))}
        for trainer in trainers.values():
            trainer.samples_per_second(1)  # graph tracing and first-call costs are not throughput
        for repeat in range(args.repeats):
            order = ("plain", "kerasbatch") if repeat % 2 == 0 else ("kerasbatch", "plain")
            for name in order:
                speeds[name].append(trainers[name].samples_per_second(args.epochs))
            (plain, plain_cpu), (ours, ours_cpu) = speeds["plain"][-1], speeds["kerasbatch"][-1]
            print(f"repeat {repeat + 1}: plain {plain:.0f} samples/s ({plain_cpu:.0f} per CPU-s), "
                  f"kerasbatch {ours:.0f} samples/s ({ours_cpu:.0f} per CPU-s)")
        print(memory_cost(trainers["plain"].model.count_params(), config))
    def median_ratio(which: int) -> float:
        return (statistics.median(s[which] for s in speeds["kerasbatch"])
                / statistics.median(s[which] for s in speeds["plain"]))

    # CPU time is what the diagnostics cost; it is steadier than wall time on a shared machine.
    print(f"CPU-time throughput ratio (kerasbatch / plain keras, medians of {args.repeats}): {median_ratio(1):.3f}")
    print(f"throughput ratio (kerasbatch / plain keras, medians of {args.repeats}): {median_ratio(0):.3f}")


if __name__ == "__main__":
    main()
