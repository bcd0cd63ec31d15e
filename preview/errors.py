"""A failed program described as the CLI's language host would: the program's own file, line and message.

Exceptions raised inside the SDK's event loop carry frames of asyncio and of the SDK; the user only
needs the innermost frame of their own code (any file of the program directory that is not an
installed package) and the message.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import pulumi


def program_frame(error: BaseException, program_root: Path, shown_from: Path) -> tuple[str, int] | None:
    """(file relative to the project, line) of the innermost frame of the program's own code."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [
            frame
            for frame in traceback.extract_tb(current.__traceback__)
            if is_program_file(frame.filename, program_root)
        ]
        if frames:
            innermost = frames[-1]
            return relative(innermost.filename, shown_from), innermost.lineno or 0
        current = current.__cause__ or current.__context__
    return None


def describe(
    error: BaseException, program_root: Path, default_file: Path | None = None, shown_from: Path | None = None
) -> str:
    """One line: `file:line: Type: message` (missing packages explained with the command that installs them)."""
    shown_from = shown_from or Path.cwd()
    error = _innermost(error)
    location = program_frame(error, program_root, shown_from)
    if isinstance(error, SyntaxError) and error.filename:
        location = (relative(error.filename, shown_from), error.lineno or 0)
    if location is None and default_file is not None:
        location = (relative(str(default_file), shown_from), 0)
    where = (
        f"{location[0]}:{location[1]}: "
        if location and location[1]
        else (f"{location[0]}: " if location else "")
    )
    message = str(error) or type(error).__name__
    if isinstance(error, SyntaxError):
        message = f"{error.msg}"
    kind = type(error).__name__
    if isinstance(error, (pulumi.RunError, pulumi.ConfigMissingError)) or type(error).__module__.startswith(
        "preview."
    ):
        return f"{where}{message}"
    return f"{where}{kind}: {message}"


def missing_package(error: ModuleNotFoundError) -> str:
    """The distribution to install for a missing top-level module (pulumi_random -> pulumi-random)."""
    module = (error.name or "").split(".")[0]
    return module.replace("_", "-") if module.startswith("pulumi_") else module


def _innermost(error: BaseException) -> BaseException:
    """Skip wrappers without a message of their own (a RunError around the program's exception)."""
    while isinstance(error, pulumi.RunError) and not str(error) and (error.__cause__ or error.__context__):
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return error


def is_program_file(filename: str, program_root: Path) -> bool:
    path = Path(filename)
    if not path.is_absolute():
        return False
    try:
        path.resolve().relative_to(program_root)
    except ValueError:
        return False
    return "site-packages" not in path.parts and not str(path).startswith(sys.prefix)


def relative(filename: str, shown_from: Path) -> str:
    """The path as the user typed it: relative to where they ran the preview when it lies below it."""
    path = Path(filename).resolve()
    try:
        return str(path.relative_to(shown_from.resolve()))
    except ValueError:
        return str(path)
