"""Running the command line in-process and reading its one-line errors."""

from kerasbatch.cli.app import run as cli


def call(capsys, *argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code, err, text):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err


def assert_usage_error(code, err, text):
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err
