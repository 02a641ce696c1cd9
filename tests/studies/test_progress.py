"""The study progress display: plain lines off a terminal, a live line on one, ETA."""

from __future__ import annotations

import re

import pytest

from kerasbatch.studies.progress import WIDTH, StudyProgress, clip, duration


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _epoch(progress: StudyProgress, clock: Clock, epoch: int, seconds: float, steps: int = 10, **logs) -> None:
    """One epoch of ``steps`` steps taking ``seconds``, as ProgressFeed would report it."""
    progress.epoch_begin(epoch)
    for step in range(1, steps + 1):
        clock.now += seconds / steps
        progress.batch_end(step)
    progress.epoch_end(epoch, logs)


def test_off_a_terminal_a_run_is_a_start_line_an_epoch_line_every_30_s_and_an_end_line():
    clock, lines = Clock(), []
    with StudyProgress(2, write=lines.append, clock=clock) as progress:
        assert not progress.is_live
        progress.start_run(1, 32, epochs=4, learning_rate=0.01)
        progress.train_begin(steps=10)
        for epoch in range(4):  # 12 s an epoch: lines after 36 s and 72 s would be due, 48 s run
            _epoch(progress, clock, epoch, 12.0, val_accuracy=0.5 + epoch / 10, gns=float("nan") if epoch else 99.44)
        progress.finish_run("batch 32 ok, val_accuracy 0.800, gns 99.4, 48.0 s")
    assert lines == [
        "[1/2] batch 32, lr 0.01 …",
        # 36 s in: epoch 3 of 4 ended; gns kept from the last finite value; ETA = 36 s / 3 epochs × 5 left.
        "[1/2] batch 32: epoch 3/4, val acc 0.700, gns 99.4, elapsed 0:36, ETA 1:00",
        "[1/2] batch 32 ok, val_accuracy 0.800, gns 99.4, 48.0 s",
    ]


def test_eta_counts_the_rest_of_this_run_and_the_runs_to_come_but_not_skipped_ones():
    clock = Clock()
    with StudyProgress(4, write=lambda line: None, clock=clock) as progress:
        assert progress.eta() is None and progress.fraction() == 0.0
        progress.skip_run(1, "batch 16 ok (already done)")
        progress.start_run(2, 32, epochs=2)
        progress.train_begin(steps=10)
        _epoch(progress, clock, 0, 10.0)
        # 1 epoch in 10 s; left: 1 of this run and 2 for each of the 2 runs to come.
        assert progress.eta() == pytest.approx(50.0)
        assert progress.fraction() == pytest.approx(1 / 6)
        clock.now += 5.0
        progress.batch_end(5)  # half-way through epoch 2: 1.5 epochs in 15 s
        assert progress.eta() == pytest.approx(45.0)
        _epoch(progress, clock, 1, 5.0, steps=5)
        progress.finish_run("batch 32 ok")
        assert progress.eta() == pytest.approx(40.0) and progress.fraction() == pytest.approx(2 / 6)


def test_a_run_that_stops_early_counts_only_the_epochs_it_trained():
    clock = Clock()
    with StudyProgress(2, write=lambda line: None, clock=clock) as progress:
        progress.start_run(1, 32, epochs=10)
        progress.train_begin(steps=10)
        _epoch(progress, clock, 0, 8.0)
        _epoch(progress, clock, 1, 8.0)  # then the target stops it
        progress.finish_run("batch 32 ok")
        assert progress.eta() == pytest.approx(8.0 * 10)  # the next run: 10 epochs at 8 s


def test_every_line_is_clipped_to_120_characters():
    lines = []
    with StudyProgress(1, write=lines.append) as progress:
        progress.start_run(1, 32, epochs=1)
        progress.finish_run("batch 32 error (ResourceExhaustedError: " + "x" * 300 + ")")
    assert len(lines[-1]) == WIDTH and lines[-1].endswith("…")
    assert clip("short") == "short"


def test_with_keras_printing_its_own_epoch_lines_only_start_and_end_lines_are_written():
    clock, lines = Clock(), []
    with StudyProgress(1, live=False, epoch_lines=False, write=lines.append, clock=clock, every=0) as progress:
        progress.start_run(1, 32, epochs=2)
        progress.train_begin(steps=10)
        _epoch(progress, clock, 0, 60.0)
        progress.finish_run("batch 32 ok")
    assert lines == ["[1/1] batch 32 …", "[1/1] batch 32 ok"]


def test_on_a_terminal_one_line_is_redrawn_no_wider_than_120_and_run_lines_stay(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    clock = Clock()
    with StudyProgress(2, live=True, clock=clock) as progress:
        assert progress.is_live
        progress.start_run(1, 32, epochs=3)
        progress.train_begin(steps=10)
        _epoch(progress, clock, 0, 3.0, val_accuracy=0.912, gns=153.2)
        progress._live.refresh()
        frame = ANSI.sub("", capsys.readouterr().err)
        progress.finish_run("batch 32 ok, val_accuracy 0.912")
    err = capsys.readouterr().err
    assert "\x1b[" in err  # drawn in place, with cursor moves
    assert re.search(r"\[1/2\] batch 32: epoch 1/3, val acc 0\.912, gns 153 ━+.* 0:03 elapsed, ETA 0:15", frame)
    assert "[1/2] batch 32 ok, val_accuracy 0.912" in ANSI.sub("", err)
    visible = [line for chunk in ANSI.sub("", frame + err).split("\n") for line in chunk.split("\r")]
    assert max(map(len, visible)) <= WIDTH


def test_off_a_terminal_auto_mode_writes_plain_lines_without_escape_codes(capsys):
    with StudyProgress(1) as progress:  # pytest's stderr is no terminal
        assert not progress.is_live
        progress.start_run(1, 64, epochs=1)
        progress.train_begin(steps=3)
        progress.finish_run("batch 64 ok")
    assert capsys.readouterr().err == "[1/1] batch 64 …\n[1/1] batch 64 ok\n"


def test_a_run_refused_before_fit_begins_leaves_only_its_end_line():
    lines = []
    with StudyProgress(1, write=lines.append) as progress:
        progress.start_run(1, 64, epochs=1)
        progress.finish_run("batch 64 error (ValueError: bad)")
    assert lines == ["[1/1] batch 64 error (ValueError: bad)"]


def test_durations_read_as_clock_times():
    assert [duration(s) for s in (None, float("nan"), 7.4, 725, 3723)] == ["–", "–", "0:07", "12:05", "1:02:03"]


def test_on_a_narrow_terminal_the_bar_and_times_go_under_the_facts(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    clock = Clock()
    with StudyProgress(2, live=True, clock=clock) as progress:
        progress.start_run(1, 32, epochs=3)
        progress.train_begin(steps=10)
        _epoch(progress, clock, 0, 3.0, val_accuracy=0.912, gns=153.2)
        progress._live.refresh()
        drawn = ANSI.sub("", capsys.readouterr().err)
    lines = [line.rstrip() for line in re.split(r"[\r\n]", drawn) if line.strip()]
    assert "[1/2] batch 32: epoch 1/3, val acc 0.912, gns 153" in lines
    assert any(re.fullmatch(r"[━╸╺]{10} 0:03 elapsed, ETA 0:15", line) for line in lines)
    assert max(map(len, lines)) <= 60


def test_log_lines_and_warnings_print_above_the_live_line_and_handlers_get_their_stream_back(capsys):
    import logging
    import sys

    from kerasbatch.cli.app import _show_warning

    handler = logging.StreamHandler(sys.stderr)  # made before the display, as TensorFlow's is
    logger = logging.getLogger("kerasbatch-test-progress")
    logger.addHandler(handler)
    try:
        with StudyProgress(1, live=True) as progress:
            progress.start_run(1, 32, epochs=1)
            progress._live.refresh()  # the line is on screen
            logger.warning("retracing")
            _show_warning("slow on CPU", UserWarning, "f.py", 1)
            assert handler.stream is not sys.__stderr__
        assert handler.stream is sys.stderr
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    # Each message is written once the live line is cleared (ESC[2K), on a line of its own.
    assert "\x1b[2Kretracing\n" in err and "\x1b[2Kwarning: slow on CPU\n" in err


def test_a_resumed_run_counts_only_the_epochs_it_trains_itself():
    clock = Clock()
    with StudyProgress(2, write=lambda line: None, clock=clock) as progress:
        progress.start_run(1, 32, epochs=4)  # a Hyperband trial resumed at epoch 2 of 4
        progress.train_begin(steps=10)
        progress.epoch_begin(2)
        assert progress.status_line().startswith("[1/2] batch 32: epoch 3/4")
        assert progress.fraction() == 0.0  # nothing trained in this study yet
        _epoch(progress, clock, 2, 6.0)
        # 1 epoch trained in 6 s; left: 1 of this run and 4 for the next.
        assert progress.eta() == pytest.approx(30.0) and progress.fraction() == pytest.approx(1 / 6)
        _epoch(progress, clock, 3, 6.0)
        progress.finish_run("batch 32 ok")
        assert progress.eta() == pytest.approx(24.0)
