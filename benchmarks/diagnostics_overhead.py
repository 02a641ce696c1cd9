"""Throughput cost of kerasbatch's diagnostics: plain ``model.fit`` against the fit a kerasbatch run does.

Both fits train the same model on the same data at the same batch size; the kerasbatch one carries every
callback a run has with the default settings (throughput, divergence, learning rate, gradient noise scale
and gradient norm every 128 steps on a probe of two training batches in two micro-batches, weight distance,
validation timing, history file, TensorBoard). Both models are built once and warmed up (graph tracing is not throughput); then many
pairs of fits are timed, one plain and one kerasbatch, back to back in this one process, alternating
which goes first.
Each pair gives a ratio (kerasbatch's samples per second over plain Keras's), so a change in the load of
a shared machine between pairs cancels out; the median over the pairs is printed with its spread, for
wall time (what a user waits) and, last, for the CPU time of this process (what the diagnostics cost:
the figure to quote, as it stays steady on a busy machine where wall time does not).

The default data are MNIST-sized (28×28×1 images, 10 classes, 8192 training examples, generated here so
no download is needed): 128 steps an epoch at batch 64, one epoch a timed fit. ``--data digits`` uses
scikit-learn's 1,294 training digits instead: epochs of 20 steps, where the fixed per-epoch costs weigh
most; five epochs a timed fit, so that a fit is long enough to time.

The pairs go on for ``--seconds`` (210 by default, so that a default run takes under five minutes on two
cores, start-up and breakdown included), or for exactly ``--pairs N``; with the median the interquartile
range of the pairs and a bootstrap 95% interval of the median are printed, so a run says how far its
figure can be trusted.

    python benchmarks/diagnostics_overhead.py [--data synthetic|digits] [--seconds S | --pairs N] [--epochs N]
                                              [--diagnostics-every N] [--breakdown FITS]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasbatch.data import datasets as data  # noqa: E402
from kerasbatch.training import train
from kerasbatch.config.run import DataConfig, ModelConfig, RunConfig  # noqa: E402

# Epochs per timed fit, per data set: about half a second (digits) and two seconds (MNIST-sized) a fit.
EPOCHS = {"digits": 5, "synthetic": 1}
MIN_PAIRS = 10  # a time budget too short for this many pairs still times them


class Trainer:
    """One compiled model and its fit arguments; with a folder it gets kerasbatch's callbacks."""

    def __init__(self, config: RunConfig, dataset: data.Dataset, folder: Path | None):
        self.config, self.dataset = config, dataset
        self.model = train.compile_model(config, dataset)
        self.named = train.build_callbacks(config, dataset, folder) if folder else {}
        self.callbacks = list(self.named.values())
        self.stream = data.pipeline(dataset.x_train, dataset.y_train, config.batch_size, training=True, seed=0)
        self.val = data.pipeline(dataset.x_val, dataset.y_val, data.EVAL_BATCH, training=False)

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
            f"during a measurement + one probe of two batches of {config.batch_size} examples")


def spread(ratios: list[float], resamples: int = 2000) -> str:
    """Median, a bootstrap 95% interval of the median, interquartile range and extremes of per-pair ratios."""
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    medians = np.median(np.random.default_rng(0).choice(ratios, (resamples, len(ratios))), axis=1)
    low, high = np.percentile(medians, [2.5, 97.5])
    return (f"median {median:.3f} (95% interval of the median {low:.3f}-{high:.3f}; IQR {q1:.3f}-{q3:.3f}, "
            f"range {min(ratios):.3f}-{max(ratios):.3f})")


def time_pairs(trainers: dict[str, Trainer], pairs: int | None, epochs: int,
               seconds: float) -> tuple[list[float], list[float]]:
    """Per-pair ratios of kerasbatch's samples per second to plain Keras's: (wall, CPU); ``pairs`` of them,
    or (``pairs=None``) as many as ``seconds`` allow, at least :data:`MIN_PAIRS`."""
    wall, cpu = [], []
    deadline = time.perf_counter() + seconds
    for pair in itertools.count():
        if pair == pairs or pairs is None and pair >= MIN_PAIRS and time.perf_counter() > deadline:
            break
        order = ("plain", "kerasbatch") if pair % 2 == 0 else ("kerasbatch", "plain")
        speed = {name: trainers[name].samples_per_second(epochs) for name in order}
        wall.append(speed["kerasbatch"][0] / speed["plain"][0])
        cpu.append(speed["kerasbatch"][1] / speed["plain"][1])
        print(f"pair {pair + 1}: plain {speed['plain'][0]:.0f} samples/s ({speed['plain'][1]:.0f} per CPU-s), "
              f"kerasbatch {speed['kerasbatch'][0]:.0f} ({speed['kerasbatch'][1]:.0f}); "
              f"ratio {wall[-1]:.3f} wall, {cpu[-1]:.3f} CPU", flush=True)
    return wall, cpu


HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end")


def breakdown(trainer: Trainer, epochs: int, fits: int) -> dict[str, float]:
    """Wall milliseconds per fit spent in each kerasbatch callback's hooks, over ``fits`` more fits.

    Each hook a callback defines is wrapped in a timer (so this runs after the timed pairs). The time
    of a hook that reads a value back from TensorFlow includes waiting for the step before it.
    """
    spent = dict.fromkeys(trainer.named, 0.0)
    for name, callback in trainer.named.items():
        for hook in HOOKS:
            if getattr(type(callback), hook) is getattr(keras.callbacks.Callback, hook):
                continue  # Keras's empty default: not ours to time

            def timed(*args, _hook=getattr(callback, hook), _name=name, **kwargs):
                start = time.perf_counter()
                try:
                    return _hook(*args, **kwargs)
                finally:
                    spent[_name] += time.perf_counter() - start

            setattr(callback, hook, timed)
    for _ in range(fits):
        trainer.samples_per_second(epochs)
    return {name: 1000 * seconds / fits for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=tuple(EPOCHS), default="synthetic")
    parser.add_argument("--seconds", type=float, default=210.0, help="time the pairs for this long (default 210)")
    parser.add_argument("--pairs", type=int, help="time exactly this many pairs of fits instead")
    parser.add_argument("--epochs", type=int, help="epochs a timed fit (default: 5 digits, 1 synthetic)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--diagnostics-every", type=int, default=RunConfig.diagnostics_every,
                        help="steps between noise measurements (default: a run's)")
    parser.add_argument("--breakdown", type=int, default=10, metavar="FITS",
                        help="then time each callback over this many more fits (0: skip)")
    args = parser.parse_args()
    epochs, pairs = args.epochs or EPOCHS[args.data], args.pairs
    if pairs is not None and pairs < 2 or epochs < 1:
        parser.error("--pairs must be at least 2 and --epochs at least 1")
    config = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name=args.model),
                       batch_size=args.batch_size, epochs=epochs, precision="float32",
                       diagnostics_every=args.diagnostics_every)
    dataset = synthetic_digits() if args.data == "synthetic" else data.load(config.data)
    print(f"{dataset.name} {args.model}, batch {args.batch_size}, {dataset.n_train // args.batch_size} steps/epoch, "
          f"{pairs or f'{args.seconds:.0f} s of'} pairs of {epochs}-epoch fits, diagnostics {','.join(config.diagnostics)} every "
          f"{config.diagnostics_every} steps, {config.micro_batches} micro-batches a probe", flush=True)
    with tempfile.TemporaryDirectory() as tmp, train.run_scope("float32", 0):
        trainers = {"plain": Trainer(config, dataset, None), "kerasbatch": Trainer(config, dataset, Path(tmp))}
        for trainer in trainers.values():
            trainer.samples_per_second(epochs)  # graph tracing and first-call costs are not throughput
        wall, cpu = time_pairs(trainers, pairs, epochs, args.seconds)
        print(memory_cost(trainers["plain"].model.count_params(), config))
        if args.breakdown:
            fit_ms = 1000 * epochs * (dataset.n_train // args.batch_size) * args.batch_size / statistics.median(
                trainers["plain"].samples_per_second(epochs)[0] for _ in range(3))
            costs = breakdown(trainers["kerasbatch"], epochs, args.breakdown)
            print(f"where the time goes, wall ms per {epochs}-epoch fit in each callback's hooks "
                  f"({args.breakdown} fits; a plain fit takes {fit_ms:.0f} ms): "
                  + ", ".join(f"{name} {ms:.2f}" for name, ms in costs.items()))
    print(f"wall-time throughput ratio (kerasbatch / plain keras, {len(wall)} pairs): {spread(wall)}")
    # Last, the figure to quote: CPU time is what the diagnostics cost, and on a shared machine it is
    # steadier than wall time, which also measures everybody else's load.
    print(f"CPU-time throughput ratio (kerasbatch / plain keras, {len(cpu)} pairs): {spread(cpu)}")


if __name__ == "__main__":
    main()
