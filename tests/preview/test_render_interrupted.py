"""Ctrl-C while a stack renders is the interruption for every command that renders one (audit,
sandbox.deploy, the drill), not only the preview: render_program itself says so, so no caller reports
a half-imported provider module as the program's error (exit 2) with loop teardown noise after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preview import entrypoint
from preview.entrypoint import EXIT_INTERRUPTED
from preview.render import ProgramError, render_program
from tests.paths import REPO_ROOT
from tests.programs import write_program

FAILING_PROGRAM = """
raise AttributeError("module 'pulumi_aws.s3' has no attribute 'Bucket'")
"""
PACK_CONFIG = REPO_ROOT / "policy" / "config.production.json"
HALF_IMPORTED_PROGRAM = """
import pathlib
import time

pathlib.Path("started").write_text("rendering")
try:
    time.sleep(60)  # where the SDK imports a provider module when Ctrl-C arrives
except KeyboardInterrupt:  # the import machinery leaves the module half-initialised; the program goes on
    raise AttributeError("module 'pulumi_aws.s3' has no attribute 'Bucket'") from None
"""


def test_a_program_error_after_ctrl_c_is_the_interruption(tmp_path: Path, monkeypatch):
    program = write_program(tmp_path / "broken", FAILING_PROGRAM)
    with pytest.raises(ProgramError, match="has no attribute 'Bucket'"):
        render_program(program, "dev")
    monkeypatch.setattr(entrypoint, "_interrupted", True)
    with pytest.raises(KeyboardInterrupt):
        render_program(program, "dev")


@pytest.mark.slow
def test_ctrl_c_while_the_audit_renders_is_one_line_and_exit_130(tmp_path: Path):
    program = write_program(tmp_path / "sleepy", HALF_IMPORTED_PROGRAM)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # never reached: the render is interrupted first
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audit",
            "--program",
            str(program),
            "--stack",
            "dev",
            "--policy-config",
            str(PACK_CONFIG),
        ],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (program / "started").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err.splitlines()[-1] == "python -m audit: interrupted (Ctrl-C)"
    assert "Traceback" not in err
    assert "error:" not in err
    assert out == ""
