"""What the commands print: progress on stderr, the compact table on stdout, nothing wider than 120."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerasbatch.reports.tables import KEY_VIEW

from tests.cli.commands import call


FAST = ["--dataset", "dots", "--dots-samples", "300", "--model", "mlp", "--widths", "8", "--epochs", "2",
        "--precision", "float32"]
KERAS_EPOCH_LINE = re.compile(r"^\d+/\d+ - .* - val_accuracy: ", re.M)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def table_columns(text: str) -> list[str]:
    """The header cells of the markdown table in ``text``."""
    header = next(line for line in text.splitlines() if line.startswith("|"))
    return [cell.strip() for cell in header.strip("|").split("|")]


def test_sweep_prints_a_line_per_run_on_stderr_and_only_the_compact_table_on_stdout(capsys, tmp_path):
    code, out, err = call(capsys, "sweep", *FAST, "--batch-sizes", "16,32", "--target", "0.6",
                          "--out", str(tmp_path), "--study", "s")
    assert code == 0
    lines = err.splitlines()
    assert [line.split(" ok")[0].split(",")[0] for line in lines] == [
        "[1/2] batch 16", "[1/2] batch 16", "[2/2] batch 32", "[2/2] batch 32"]
    assert lines[0] == "[1/2] batch 16, lr 0.005 …" and lines[1].startswith("[1/2] batch 16 ok, val_accuracy ")
    assert not KERAS_EPOCH_LINE.search(out + err) and "trace_sigma" not in out + err
    assert all(line.startswith("|") for line in out.splitlines()) and len(out.splitlines()) == 4
    assert table_columns(out) == ["batch", "status", "lr", "best acc", "final acc", "ep to target", "s to target",
                                  "samples/s", "gns"]
    assert widest(out + err) <= 120


def test_quiet_prints_only_the_table_and_verbose_brings_back_keras_lines(capsys, tmp_path):
    code, out, err = call(capsys, "sweep", *FAST, "--batch-sizes", "16", "--quiet", "--out", str(tmp_path))
    assert code == 0 and err == ""
    assert [line[:8] for line in out.splitlines()] == ["| batch ", "|------:", "|    16 "]
    code, out, err = call(capsys, "train", *FAST, "--batch-size", "8", "--verbose", "--out", str(tmp_path))
    assert code == 0 and len(KERAS_EPOCH_LINE.findall(out)) == 2
    assert err.splitlines()[0] == "[1/1] batch 8, lr 0.0025 …" and err.splitlines()[1].startswith("[1/1] batch 8 ok")
    code, _, err = call(capsys, "sweep", *FAST, "--quiet", "--verbose", "--out", str(tmp_path / "none"))
    assert code == 2 and err == "error: --quiet and --verbose exclude each other\n"
    assert not (tmp_path / "none").exists()


def test_a_run_already_done_is_one_line(capsys, tmp_path):
    argv = ["train", *FAST, "--batch-size", "8", "--out", str(tmp_path), "--study", "t"]
    assert call(capsys, *argv)[0] == 0
    code, out, err = call(capsys, *argv)
    assert code == 0 and err.splitlines() == ["[1/1] batch 8 ok (already done)"]
    assert re.search(r"^\|\s+8 \| ok", out, re.M)


def test_compare_shows_the_compact_view_by_default_and_everything_on_request(capsys, digits_sweep):
    store, _ = digits_sweep
    code, out, _ = call(capsys, "compare", str(store.study_dir))
    assert code == 0 and widest(out) <= 120
    shown = table_columns(out)
    assert len(shown) <= 15 and set(shown) <= set(KEY_VIEW.values()) and {"batch", "best acc", "gns"} <= set(shown)
    _, everything, _ = call(capsys, "compare", str(store.study_dir), "--columns", "all")
    assert len(table_columns(everything)) > 40 and "None" not in everything and "nan" not in everything
    _, csv_key, _ = call(capsys, "compare", str(store.study_dir), "--columns", "key", "--format", "csv")
    assert csv_key.splitlines()[0].startswith("batch_size,status,learning_rate,best_val_accuracy")
    _, picked, _ = call(capsys, "compare", str(store.study_dir), "--columns", "batch_size,gns")
    assert table_columns(picked) == ["batch_size", "gns"]


def _run_on_a_terminal(argv: list[str], columns: int = 200, timeout: float = 300) -> str:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal ``columns`` wide; everything it drew."""
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TF_CPP_MIN_LOG_LEVEL")}
    process = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env,
                               cwd=Path(__file__).parents[2], close_fds=True)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal sizing is tested on Linux")
def test_the_acceptance_sweep_on_a_wide_terminal_shows_progress_and_no_line_over_120(tmp_path):
    drawn = _run_on_a_terminal([sys.executable, "-m", "kerasbatch", "sweep", "--dataset", "digits", "--model",
                                "mlp", "--batch-sizes", "32,256", "--epochs", "3", "--out", str(tmp_path)])
    screens = [ANSI.sub("", piece) for piece in re.split(r"[\r\n]", drawn)]
    assert max(map(len, screens)) <= 120, max(screens, key=len)
    assert any(re.match(r"\[2/2\] batch 256: epoch [123]/3.*━.* elapsed, ETA ", s) for s in screens)
    assert any(s.startswith("[1/2] batch 32 ok, val_accuracy") for s in screens)
    assert sum(s.startswith("|") for s in screens) == 4 and "oneDNN" not in drawn and "absl" not in drawn
