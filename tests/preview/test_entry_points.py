"""Every command's front door (preview.entrypoint): --help does no work, Ctrl-C is one line and exit 130
(never a program error or a traceback), a closed output pipe ends quietly, numeric flags are checked
first, and the preview refuses a stack without its file unless told to use the defaults."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from preview.cli import main as preview_main
from preview.entrypoint import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, finite_number, run_command, whole_number
from tests.paths import REPO_ROOT
from tests.programs import write_program

ENTRY_POINTS = (
    "preview",
    "sandbox.deploy",
    "sandbox.drill",
    "audit",
    "dlq",
    "bench.policy",
    "bench.worker",
    "bench.cost",
)


@pytest.fixture
def sigint_restored():
    handler = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, handler)


def test_ranges_name_the_value_and_the_range():
    assert whole_number(1, 64)("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match=r"^0 is outside the allowed range \(1\.\.64\)$"):
        whole_number(1, 64)("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'many' is not a whole number"):
        whole_number(1, 64)("many")
    assert finite_number(0, 1, low_exclusive=True)("0.5") == 0.5
    for text in ("0", "nan", "inf", "-1", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="more than 0 and at most 1"):
            finite_number(0, 1, low_exclusive=True)(text)


def test_an_interrupt_is_one_line_and_exit_130(capsys, sigint_restored):
    def interrupted_main() -> int:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exited:
        run_command(interrupted_main, "python -m something")
    assert exited.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "python -m something: interrupted (Ctrl-C)\n"


def test_a_command_that_reports_its_own_interruption_keeps_its_words(capsys, sigint_restored):
    with pytest.raises(SystemExit) as exited:
        run_command(lambda: EXIT_INTERRUPTED, "python -m dlq")
    assert exited.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == ""


def test_a_stack_without_its_file_is_refused_listing_the_stack_files(capsys):
    assert preview_main(["--stack", "prod"]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    assert "stack 'prod': there is no Pulumi.prod.yaml" in message
    assert "(stacks with a file: lambda, production)" in message
    assert "--allow-missing-stack-file" in message


@pytest.mark.slow
def test_a_stack_without_its_file_renders_the_defaults_when_the_flag_says_so(capsys):
    assert preview_main(["--stack", "prod", "--allow-missing-stack-file"]) == 0
    assert "Previewing stack 'prod'" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_help_describes_the_command_and_does_no_work(module: str):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {module} ")
    assert result.stderr == ""
    assert "Evaluating" not in result.stdout  # bench.policy ran the whole benchmark before
    assert time.monotonic() - started < 30


SLEEPING_PROGRAM = """
import pathlib
import time

pathlib.Path("started").write_text("rendering")
time.sleep(60)
"""
HALF_IMPORTED_PROGRAM = """
import pathlib
import time

pathlib.Path("started").write_text("rendering")
try:
    time.sleep(60)  # where the SDK imports a provider module when Ctrl-C arrives
except KeyboardInterrupt:  # the import machinery leaves the module half-initialised; the program goes on
    raise AttributeError("module 'pulumi_aws.lambda_' has no attribute 'Function'") from None
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "source", [SLEEPING_PROGRAM, HALF_IMPORTED_PROGRAM], ids=["sleeping", "half-imported"]
)
def test_ctrl_c_while_the_program_renders_is_an_interruption_not_a_program_error(tmp_path: Path, source: str):
    program = write_program(tmp_path / "sleepy", source)
    sarif = tmp_path / "gate.sarif"
    process = subprocess.Popen(
        [sys.executable, "-m", "preview", "--program", str(program), "--stack", "dev", "--sarif", str(sarif)],
        cwd=REPO_ROOT,
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
    assert process.returncode == EXIT_INTERRUPTED
    assert err == "python -m preview: interrupted (Ctrl-C)\n"
    assert out == ""
    assert list(tmp_path.glob("*.sarif*")) == []  # nothing written, not even half


@pytest.mark.slow
def test_a_reader_that_stops_reading_ends_the_preview_quietly():
    process = subprocess.Popen(
        [sys.executable, "-m", "preview", "--json"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().strip() == b"{"  # `| head -1`
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert err == b""
