"""The drill's command line: numeric flags are checked before any work (`--workers 0` ran 284 s and
then failed), and Ctrl-C stops it with one line and exit 130 (it printed a 28-line traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from preview.entrypoint import EXIT_INTERRUPTED
from sandbox import drill
from tests.paths import REPO_ROOT


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--workers", "0"], "argument --workers: 0 is outside the allowed range (1..64)"),
        (["--burst", "-1"], "argument --burst: -1 is outside the allowed range (1..10000)"),
        (["--burst", "ten"], "argument --burst: 'ten' is not a whole number (allowed: 1..10000)"),
        (["--scale", "0"], "argument --scale: 0 is outside the allowed range (more than 0 and at most 1)"),
        (["--time-limit", "nan"], "argument --time-limit: nan is outside the allowed range"),
        (["--incident-seconds", "-3"], "argument --incident-seconds: -3 is outside the allowed range"),
    ],
)
def test_a_numeric_flag_out_of_range_exits_2_naming_it_before_any_work(argv, expected, capsys, monkeypatch):
    def no_work(*_args, **_kwargs):
        raise AssertionError("the drill started working with an invalid flag")

    monkeypatch.setattr(drill, "render_program", no_work)
    with pytest.raises(SystemExit) as exited:
        drill.main(argv)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.slow
def test_ctrl_c_during_a_run_stops_it_with_one_line_and_exit_130(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.drill", "--compute", "ec2", "--burst", "5", "--workers", "1"]
        + ["--output", str(tmp_path / "drill")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, which Ctrl-C in a terminal signals as a whole
    )
    seen = []
    while not any("[fixed ec2]" in line for line in seen):  # the workers are running
        line = process.stderr.readline()
        assert line, "".join(seen)
        seen.append(line)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err.endswith("python -m sandbox.drill: interrupted (Ctrl-C)\n")
    assert "Traceback" not in err
