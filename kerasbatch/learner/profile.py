"""Profile: what each batch size costs on this machine — samples/s, step time and peak memory.

Each size is measured by training steps only (no validation, no diagnostics) after a warm-up that
absorbs graph tracing. Probes run in a child process, one child for a run of sizes in ascending order:
a size that does not fit kills or poisons only its child (TensorFlow recovers slowly from an
out-of-memory error and keeps the memory), is reported as ``oom``, and a fresh child takes the next
size. The children's start-up time is part of what a profile costs, and is reported.

``find_max`` looks for the largest batch that fits: doubling from the largest size asked for, then
bisection on multiples of 8 between the last size that fit and the first that did not, within a time
budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from kerasbatch.config.learner import ProfileConfig
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import first_line, out_of_memory
from kerasbatch.store import PROFILE, Store, make_dir, write_json
from kerasbatch.training.precision import ALIGNMENT
from kerasbatch.training.step_time import Profile

Progress = Callable[[str], None]


def profile(config: ProfileConfig, store: Store | None = None, *, progress: Progress | None = None,
            enough: Callable[[list[dict[str, Any]]], bool] | None = None, prober: Prober | None = None) -> Profile:
    """Measure every size of ``config`` (and the largest that fits, with ``find_max``).

    Writes ``profile.json`` into the study when ``store`` is given. Sizes larger than the training set
    are left out (a step must see a full batch). Sizes are measured in ascending order; ``enough``, when
    given, is asked after each with the rows so far, and ``True`` ends the scan there (no larger size,
    no search for the largest): how a caller that knows no larger size can help saves their cost.
    ``prober``, a :class:`Prober` the caller started earlier for ``config`` (its child's start-up overlapping
    other work), is used and closed.
    """
    from kerasbatch.training import train

    dataset = train.validate(config.run.with_batch_size(min(config.batch_sizes)))
    sizes = sorted(b for b in set(config.batch_sizes) if b <= dataset.n_train)
    started = time.perf_counter()
    prober = prober or Prober(config, progress)
    try:
        rows: list[dict[str, Any]] = []
        largest, reason = None, None
        for size in sizes:
            rows += prober.measure([size])
            if enough is not None and enough(rows):
                reason = f"no size above {size} can be faster"
                break
        else:
            if config.find_max:
                largest, reason = _find_max(prober, rows, dataset.n_train, started + config.budget_seconds)
    finally:
        prober.close()
    for row in rows:
        row["warning"] = _alignment_warning(row["batch_size"], row.get("precision"))
    result = Profile(rows=sorted(rows, key=lambda r: r["batch_size"]), max_batch_size=largest, max_reason=reason,
                     seconds=time.perf_counter() - started, startup_seconds=prober.startup_seconds,
                     children=prober.children, settings=config.run.identity())
    if store is not None:
        make_dir(store.study_dir)
        write_json(store.study_dir / PROFILE, result.to_dict())
    return result


def _alignment_warning(batch_size: int, policy: str | None) -> str | None:
    if policy == "mixed_float16" and batch_size % ALIGNMENT:
        return f"not a multiple of {ALIGNMENT}: Tensor Cores want multiples of {ALIGNMENT} under float16"
    return None


def _find_max(prober: Prober, rows: list[dict[str, Any]], limit: int, deadline: float) -> tuple[int | None, str]:
    """The largest batch that fits, and why not larger: double, then bisect; stop at ``deadline``."""
    fit = [r["batch_size"] for r in rows if r["status"] == "ok"]
    failed = [r["batch_size"] for r in rows if r["status"] != "ok"]
    low = max(fit, default=None)
    high = min((b for b in failed if low is None or b > low), default=None)
    while high is None:  # doubling
        if low is not None and low >= limit:
            return low, f"the training set has {limit} examples"
        candidate = min(2 * low if low else ALIGNMENT, limit)
        if time.perf_counter() > deadline:
            return low, "time budget spent while doubling"
        row = prober.measure([candidate])[0]
        rows.append(row)
        low, high = (candidate, None) if row["status"] == "ok" else (low, candidate)
    while True:  # bisection, on multiples of 8: the sizes worth running on hardware that likes them
        middle = ((low or 0) + high) // 2 // ALIGNMENT * ALIGNMENT
        if middle <= (low or 0) or middle >= high:
            return low, f"{high} does not fit"
        if time.perf_counter() > deadline:
            return low, f"time budget spent; {high} does not fit"
        row = prober.measure([middle])[0]
        rows.append(row)
        low, high = (middle, high) if row["status"] == "ok" else (low, middle)


class Prober:
    """Children that measure sizes; a child that runs out of memory or dies is replaced.

    :meth:`start` launches a child without waiting for it: it imports TensorFlow and loads the data
    while the caller does something else. ``startup_seconds`` counts only the time spent waiting for
    children to be ready.
    """

    def __init__(self, config: ProfileConfig, progress: Progress | None = None) -> None:
        self.config, self.progress = config, progress
        self.child: subprocess.Popen | None = None
        self.children, self.startup_seconds, self._last, self._ready = 0, 0.0, 0, False

    def start(self) -> Prober:
        """Launch a child (if none runs) and return at once."""
        if self.child is None:
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
            self.child = subprocess.Popen([sys.executable, "-m", "kerasbatch.learner.profile"], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                                          cwd=os.getcwd())
            request = {"run": self.config.run.to_dict(), "warmup_steps": self.config.warmup_steps,
                       "timed_steps": self.config.timed_steps, "timed_seconds": self.config.timed_seconds,
                       "sys_path": sys.path}
            self.child.stdin.write(json.dumps(request) + "\n")
            self.child.stdin.flush()
            self.children += 1
            self._ready = False
        return self

    def measure(self, sizes: Iterable[int]) -> list[dict[str, Any]]:
        rows = []
        for batch_size in sizes:
            if self.child is not None and batch_size <= self._last:
                self.close()  # a child only ever grows its batch: what it holds stays the smaller size's
            row = self._ask(batch_size)
            if row["status"] != "ok":
                self.close()
            if self.progress is not None:
                self.progress(describe(row))
            rows.append(row)
        return rows

    def _ask(self, batch_size: int) -> dict[str, Any]:
        child = self._child()
        self._last = batch_size
        child.stdin.write(json.dumps({"batch_size": batch_size}) + "\n")
        child.stdin.flush()
        line = child.stdout.readline()
        if line:
            return json.loads(line)
        code = child.wait()
        # Killed (SIGKILL, as the kernel's out-of-memory killer does) or aborted by an allocator.
        status = "oom" if code in (-9, 137, -6, 134) else "error"
        return {"batch_size": batch_size, "status": status, "error": f"probe process ended with exit status {code}"}

    def _child(self) -> subprocess.Popen:
        started = time.perf_counter()
        self.start()
        if not self._ready:
            ready = self.child.stdout.readline()  # the child has imported TensorFlow and loaded the data
            self.startup_seconds += time.perf_counter() - started
            if not ready:
                raise RuntimeError(f"the profiling process failed to start (exit status {self.child.wait()})")
            self._ready = True
        return self.child

    def close(self) -> None:
        if self.child is not None:
            if self.child.poll() is None:
                self.child.stdin.close()
                try:
                    self.child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.child.kill()
                    self.child.wait()
            self.child = None
            self._last = 0


def describe(row: dict[str, Any]) -> str:
    """One line about a measured size, for progress output."""
    if row["status"] != "ok":
        return f"batch {row['batch_size']}: {row['status']}"
    return (f"batch {row['batch_size']}: {row['samples_per_second']:,.0f} samples/s, "
            f"step {1000 * row['step_time_median']:.2f} ms (p90 {1000 * row['step_time_p90']:.2f} ms)")


# -- the child process -----------------------------------------------------------------------------


def _child_main() -> None:
    """Read the run, say ready, then answer one JSON line per batch size asked, until stdin closes."""
    request = json.loads(sys.stdin.readline())
    sys.path[:] = request["sys_path"]  # the parent's imports (a user's module:function model) resolve here too
    import tensorflow  # noqa: F401  (imported before "ready": its start-up is part of a child's cost)

    from kerasbatch.data import datasets as data
    from kerasbatch.training import precision
    from kerasbatch.training import train

    config = RunConfig.from_dict(request["run"])
    dataset = data.load(config.data)
    print("ready", flush=True)
    with train.run_scope(precision.resolve(config.precision), config.seed):
        prober = _SizeProber(config, dataset, request["warmup_steps"], request["timed_steps"],
                             request.get("timed_seconds", 0.0))
        for line in sys.stdin:
            print(json.dumps(prober.measure(json.loads(line)["batch_size"])), flush=True)


class _SizeProber:
    """One model measured at one size after another (in the child).

    The model is built once: after two batch shapes Keras's train function is traced for any batch
    size (``reduce_retracing``), so later sizes cost their steps, not a build and a trace each
    (digits cnn on this CPU: 1.0–1.5 s of tracing a size, then 0.03–0.08 s). Weights moving between
    sizes do not change what a step costs.
    """

    def __init__(self, config: RunConfig, dataset, warmup_steps: int, timed_steps: int,
                 timed_seconds: float = 0.0) -> None:
        self.config, self.dataset = config, dataset
        self.warmup_steps, self.timed_steps, self.timed_seconds = warmup_steps, timed_steps, timed_seconds
        self.model = None

    def measure(self, batch_size: int) -> dict[str, Any]:
        import resource

        import tensorflow as tf

        from kerasbatch.data import datasets as data
        from kerasbatch.training import precision
        from kerasbatch.training import train
        from kerasbatch.callbacks import Throughput

        config = self.config.with_batch_size(batch_size)
        row: dict[str, Any] = {"batch_size": batch_size, "precision": precision.resolve(config.precision)}
        gpu = bool(tf.config.list_physical_devices("GPU"))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if gpu:
            tf.config.experimental.reset_memory_stats("GPU:0")
        meter = Throughput(batch_size, skip_steps=self.warmup_steps, step_times=True)
        try:
            self.model = self.model or train.compile_model(config, self.dataset)
            batches = data.pipeline(self.dataset.x_train, self.dataset.y_train, batch_size, training=True,
                                    seed=config.seed).repeat()
            enough = _enough(self.warmup_steps, self.timed_steps, self.timed_seconds)
            history = self.model.fit(batches, epochs=1, steps_per_epoch=self.warmup_steps + enough.most,
                                     callbacks=[meter, enough], verbose=0)
        except Exception as exc:  # reported on the row; the next size is measured in a fresh process
            if out_of_memory(exc):
                return {**row, "status": "oom", "error": first_line(exc)}
            return {**row, "status": "error", "error": f"{type(exc).__name__}: {first_line(exc)}"}
        logs = {k: v[-1] for k, v in history.history.items()}
        row.update(status="ok", samples_per_second=float(logs["samples_per_second"]),
                   step_time_median=float(logs["step_time_median"]), step_time_p90=float(logs["step_time_p90"]))
        if gpu:
            row["peak_memory_mb"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
        else:  # ru_maxrss is in KiB on Linux: the process's peak resident memory grew by this much
            row["peak_memory_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        return row


def _enough(warmup: int, steps: int, seconds: float, most: int = 5000):
    """A callback that ends the timed steps once there are ``steps`` of them and they took ``seconds``
    (``.most``: the steps to ask ``fit`` for, an upper bound)."""
    import keras

    class Enough(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.most = max(steps, most) if seconds > 0 else steps
            self.done, self.began = 0, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            if self.done == warmup:
                self.began = time.perf_counter()
            elif self.done >= warmup + steps and time.perf_counter() - self.began >= seconds:
                self.model.stop_training = True

    return Enough()


if __name__ == "__main__":
    _child_main()
