"""The console of a sweep or a search: one progress display for the whole study, one line per run.

On an interactive terminal one line is redrawn in place (with rich): run i/N, batch size, epoch,
latest validation accuracy and gradient noise scale, a bar for the whole study, elapsed time and ETA.
Anywhere else (CI logs, pipes, files) the same facts come as plain lines: when a run starts, at most
once every ``every`` seconds while it trains, and when it ends. No line is wider than :data:`WIDTH`.

TensorFlow-free: the Keras side is :class:`kerasbatch.callbacks.progress.ProgressFeed`, which feeds a
:class:`StudyProgress` from inside ``fit``.

Example::

    with StudyProgress(total=2) as progress:
        for index, size in enumerate((32, 256), start=1):
            progress.start_run(index, size, epochs=3)
            result = train.run(config.with_batch_size(size), store, callbacks=[progress.callback()])
            progress.finish_run(train.describe(result))
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, Callable

WIDTH = 120


def clip(line: str, width: int = WIDTH) -> str:
    """``line`` cut to ``width`` characters, with an ellipsis when it was longer."""
    return line if len(line) <= width else line[: width - 1] + "…"


def duration(seconds: float | None) -> str:
    """``0:07``, ``12:05``, ``1:02:03``; ``–`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class StudyProgress:
    """Progress of ``total`` runs (a sweep's batch sizes, a search's trials), shown as they train.

    Args:
        total: how many runs the study will train or skip.
        live: redraw one line in place; ``None`` decides by whether stderr is an interactive terminal.
        epoch_lines: without the live line, also write a line about the current epoch at most every
            ``every`` seconds (off when Keras prints its own epoch lines).
        write: where plain lines go (default: stderr).
        every: seconds between plain epoch lines.
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, total: int, *, live: bool | None = None, epoch_lines: bool = True,
                 write: Callable[[str], None] | None = None, every: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.epoch_lines, self.every, self.clock = total, epoch_lines, every, clock
        self._write = write or _stderr_line
        self._console = None if live is False else _live_console(force=bool(live))
        self._live = None
        self._borrowed: list[logging.StreamHandler] = []
        self._started = clock()
        self._last_line = self._started
        self._runs_left = total  # neither started nor skipped
        self._epochs_per_run = 0  # of the latest run: the guess for the runs to come
        self._done_units = 0.0  # epochs trained so far, all runs
        self._train_seconds = 0.0  # time spent in those epochs
        self._run: dict[str, Any] | None = None
        self._ended = 0  # runs finished or skipped

    # -- the study ---------------------------------------------------------------------------------
    def __enter__(self) -> StudyProgress:
        self._started = self._last_line = self.clock()
        if self._console is not None:
            from rich.live import Live

            original = sys.stderr
            self._live = Live(console=self._console, get_renderable=self._renderable, transient=True,
                              refresh_per_second=4, redirect_stdout=False, redirect_stderr=True)
            self._live.start()
            # Live catches writes to sys.stderr and prints them above the line; log handlers hold the
            # stream they were made with (TensorFlow's does), so they are pointed at the catcher too.
            self._borrowed = _stderr_log_handlers(original)
            for handler in self._borrowed:
                handler.setStream(sys.stderr)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            for handler in self._borrowed:
                handler.setStream(sys.stderr)

    @property
    def is_live(self) -> bool:
        return self._live is not None

    def note(self, line: str) -> None:
        """A line about the study (not about one epoch), shown above the live line or written plain."""
        line = clip(line)
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self._write(line)
            self._last_line = self.clock()

    # -- one run -----------------------------------------------------------------------------------
    def start_run(self, index: int, batch_size: int, epochs: int, *, learning_rate: float | None = None,
                  label: str | None = None) -> None:
        """Run ``index`` (from 1) is about to train ``epochs`` epochs at ``batch_size``.

        Its plain start line waits for ``fit`` to begin, so that a run refused before it trains (a
        bad dataset or model) leaves only the error.
        """
        self._runs_left = max(self._runs_left - 1, 0)
        self._epochs_per_run = epochs
        rate = f", lr {learning_rate:.4g}" if learning_rate is not None else ""
        label = label or f"[{index}/{self.total}]"
        # Epochs by Keras's count: ``first`` the one training began at (past 0 for a resumed run),
        # ``epoch`` how many have ended, ``current`` the one shown (from 1).
        self._run = {"label": label, "start_line": f"{label} batch {batch_size}{rate} …", "batch_size": batch_size,
                     "epochs": epochs, "first": 0, "epoch": 0, "current": 1, "step": 0, "steps": None,
                     "val_accuracy": None, "gns": None, "began": None}

    def skip_run(self, index: int, line: str, *, label: str | None = None) -> None:
        """Run ``index`` needs no training (it is in the store already): its line, and no time in the ETA."""
        self._runs_left = max(self._runs_left - 1, 0)
        self._ended += 1
        self.note(f"{label or f'[{index}/{self.total}]'} {line}")

    def finish_run(self, line: str) -> None:
        """The run has ended (however it ended): write its one line."""
        run, self._run = self._run, None
        self._ended += 1
        if run is not None:
            self._settle(run)
        self.note(f"{run['label']} {line}" if run else line)

    def callback(self):
        """A Keras callback that feeds this display from inside ``fit`` (imports Keras)."""
        from kerasbatch.callbacks.progress import ProgressFeed

        return ProgressFeed(self)

    # -- fed by the Keras callback -------------------------------------------------------------------
    def train_begin(self, steps: int | None) -> None:
        if self._run is not None:
            self._run.update(steps=steps, began=self.clock())
            if self._live is None:
                self.note(self._run["start_line"])

    def epoch_begin(self, epoch: int) -> None:
        """Epoch ``epoch`` (from 0) begins: past 0 for a run resumed with Keras's ``initial_epoch``."""
        run = self._run
        if run is None:
            return
        if run["epoch"] == run["first"] == 0 and epoch > 0:
            run.update(first=epoch, epoch=epoch)  # the epochs before it were trained earlier
        run["current"] = epoch + 1

    def batch_end(self, step: int) -> None:
        if self._run is not None:
            self._run["step"] = step

    def epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Epoch ``epoch`` (from 0, as Keras counts) ended with these logs."""
        run = self._run
        if run is None:
            return
        run.update(epoch=epoch + 1, step=0)
        for key in ("val_accuracy", "gns"):
            value = _number(logs.get(key))
            if value is not None:
                run[key] = value
        if self._live is None and self.epoch_lines and self.clock() - self._last_line >= self.every:
            self.note(self.status_line())

    # -- what is shown --------------------------------------------------------------------------------
    def status_line(self) -> str:
        """``[1/2] batch 32: epoch 2/3, val acc 0.903, gns 99.2, elapsed 0:12, ETA 0:05``."""
        times = f"elapsed {duration(self.elapsed())}, ETA {duration(self.eta())}"
        return clip(f"{self._run_facts()}, {times}" if self._run else times)

    def _run_facts(self) -> str:
        run = self._run
        if run is None:
            return f"{self._ended}/{self.total} runs done" if self._ended else "starting …"
        parts = [f"epoch {run['current']}/{run['epochs']}"]  # under way, or just ended
        if run["val_accuracy"] is not None:
            parts.append(f"val acc {run['val_accuracy']:.3f}")
        if run["gns"] is not None:
            parts.append(f"gns {run['gns']:.3g}")
        return f"{run['label']} batch {run['batch_size']}: " + ", ".join(parts)

    def elapsed(self) -> float:
        return self.clock() - self._started

    def fraction(self) -> float:
        """Share of the study's epochs trained so far (0 to 1), counting the current epoch's steps."""
        done = self._done_units + self._run_units()
        left = self._units_left()
        return done / (done + left) if done + left > 0 else 0.0

    def eta(self) -> float | None:
        """Seconds until the study ends, at the pace of the epochs trained so far; ``None`` before one."""
        done = self._done_units + self._run_units()
        if done <= 0:
            return None
        run = self._run
        spent = self._train_seconds + (self.clock() - run["began"] if run and run["began"] is not None else 0.0)
        return spent / done * self._units_left()

    def _step_part(self) -> float:
        """How much of the epoch under way is done (0 to 1)."""
        run = self._run
        return min(run["step"] / run["steps"], 1.0) if run and run["steps"] else 0.0

    def _run_units(self) -> float:
        """Epochs this run has trained so far (not those of a run it resumes)."""
        run = self._run
        return run["epoch"] - run["first"] + self._step_part() if run else 0.0

    def _units_left(self) -> float:
        """Epochs still to train: the rest of this run, and as many as it has for each run to come."""
        run = self._run
        here = run["epochs"] - run["epoch"] - self._step_part() if run else 0.0
        return max(here, 0.0) + self._runs_left * self._epochs_per_run

    def _settle(self, run: dict[str, Any]) -> None:
        """Book a finished run's epochs and time; a run that stopped early simply trained fewer."""
        self._done_units += run["epoch"] - run["first"]
        if run["began"] is not None:
            self._train_seconds += self.clock() - run["began"]

    def _renderable(self):
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        facts, times = self._run_facts(), f"{duration(self.elapsed())} elapsed, ETA {duration(self.eta())}"
        room = self._console.width - len(facts) - len(times) - 2  # what one line leaves for the bar
        bar = ProgressBar(total=1.0, completed=self.fraction(), width=min(max(room, 10), 20))
        line = Table.grid(padding=(0, 1))
        if room >= 10:
            line.add_row(facts, bar, times)
            return line
        line.add_row(bar, times)  # a narrow terminal: the facts, and under them the bar and the times
        lines = Table.grid()
        lines.add_row(facts)
        lines.add_row(line)
        return lines


def _stderr_log_handlers(stream) -> list[logging.StreamHandler]:
    """The logging handlers that write to ``stream``, of every logger made so far."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    return [h for logger in loggers for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and h.stream is stream]


def _live_console(force: bool = False):
    """A rich console on stderr at most :data:`WIDTH` wide, or ``None`` when stderr is no terminal."""
    from rich.console import Console

    console = Console(stderr=True, force_terminal=True if force else None)
    if not (force or console.is_interactive):
        return None
    return Console(stderr=True, force_terminal=True if force else None, width=min(console.width, WIDTH))


def _number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
