"""The front door every command shares (preview, sandbox, audit, dlq, bench): Ctrl-C ends with one
line and exit 130, a reader that stops reading (`| head`) ends the command quietly, and numeric
flags are checked by argparse, before any work, with the flag and its range in the message.

Files a command writes go through `atomic_write`-style renames in its own code (preview.sarif), so an
interrupted run leaves the previous file or none, never half of one.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for Ctrl-C."""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: the reader of the output stopped reading, as a shell reports it."""

_interrupted = False


def interrupted() -> bool:
    """Whether Ctrl-C was pressed during this run: an error raised after it (a module half imported
    when the interrupt arrived, a task cancelled by it) is the interruption, not a fault to report."""
    return _interrupted


def _on_interrupt(_signal: int, _frame: FrameType | None) -> None:
    global _interrupted  # noqa: PLW0603 - one process, one Ctrl-C
    _interrupted = True
    raise KeyboardInterrupt


def run_command(main: Callable[[], int | None], prog: str, fast_exit: bool = False) -> NoReturn:
    """Run `main` and exit with its code; Ctrl-C is one line on stderr and exit 130, a closed output
    pipe exit 141 without a word. `fast_exit` skips interpreter teardown: for the preview, tearing down the
    SDK's event loops and thousands of provider classes costs a third of a second and can print loop
    teardown noise, after everything was printed."""
    signal.signal(signal.SIGINT, _on_interrupt)
    stopped_by_interrupt = False
    try:
        code = main() or 0
    except KeyboardInterrupt:
        stopped_by_interrupt, code = True, EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting now: a late Ctrl-C does not break the exit
    if stopped_by_interrupt:
        print(f"{prog}: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
    if code != EXIT_BROKEN_PIPE:
        code = _flushed(code)
    if code == EXIT_BROKEN_PIPE:
        _silence_stdout()
    if fast_exit:
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _flushed(code: int) -> int:
    """Flush stdout now, so a reader gone at the very end is a broken pipe here, not at teardown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return EXIT_BROKEN_PIPE
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python's own flush at exit would otherwise report the broken pipe
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """argparse `type=`: a whole number in low..high; argparse names the flag and exits 2."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number (allowed: {low}..{high})"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside the allowed range ({low}..{high})")
        return value

    return parse


def finite_number(low: float, high: float, low_exclusive: bool = False) -> Callable[[str], float]:
    """argparse `type=`: a finite number in low..high (above low when `low_exclusive`)."""
    allowed = f"more than {low:g} and at most {high:g}" if low_exclusive else f"{low:g}..{high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number (allowed: {allowed})") from None
        too_low = value <= low if low_exclusive else value < low
        if math.isnan(value) or too_low or value > high:
            raise argparse.ArgumentTypeError(f"{text} is outside the allowed range ({allowed})")
        return value

    return parse
