"""The plausible-value pass's `apply` callbacks: one that fails makes its value unknown, not the program fail.

During `pulumi preview` a callback on an output the provider has not computed yet does not run
(https://www.pulumi.com/docs/iac/concepts/inputs-outputs/apply/), so a program may do there what only
works at deployment (call boto3 with the function's ARN). The second pass gives such outputs
plausible values so the policies can decide, and so runs callbacks the CLI's preview never runs:
when one raises, its result becomes a marker value that later callbacks do not run on (as on an
unknown) and that the monitor records as unknown, remembering which callback made it, so the
rules that need it say "cannot decide" and why.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from preview import errors
from preview.values import UNKNOWN

MARKER_PREFIX = f"{UNKNOWN}#failed-callback-"
_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"(\d+)")


@dataclass(frozen=True)
class CallbackFailure:
    """An `apply` callback that raised on plausible values: where the program set it up, and the error."""

    where: str
    error: str

    def describe(self) -> str:
        return f"the callback at {self.where} failed on plausible values ({self.error})"


class CallbackGuard:
    """Patches `pulumi.Output.apply` for one render.

    In the preview pass it only notes which callbacks ran (the CLI runs them too). In the
    plausible-value pass a failing callback yields a marker, not an error, and a callback that did
    not run in the preview cannot reach AWS.
    """

    def __init__(
        self, program_root: Path, shown_from: Path, ran_in_preview: set[tuple[str, int]] | None = None
    ) -> None:
        self.program_root = program_root
        self.shown_from = shown_from
        self.failures: list[CallbackFailure] = []
        self.ran: set[tuple[str, int]] = set()
        self.ran_in_preview = ran_in_preview
        """None: this is the preview pass (note, do not guard)."""

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        original = pulumi.Output.apply
        guard = self

        def apply(output: pulumi.Output, func: Callable[[Any], Any], run_with_unknowns: bool = False) -> Any:
            return original(output, guard.guarded(func), run_with_unknowns)

        pulumi.Output.apply = apply  # type: ignore[method-assign]
        try:
            yield
        finally:
            pulumi.Output.apply = original  # type: ignore[method-assign]

    def guarded(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        code = getattr(func, "__code__", None)
        key = (code.co_filename, code.co_firstlineno) if code else ("", id(func))

        def note(value: Any) -> Any:
            self.ran.add(key)
            return func(value)

        def run(value: Any) -> Any:
            failed = first_marker(value)
            if failed is not None:
                return failed  # as on an unknown: the callback does not run
            try:
                with contextlib.nullcontext() if key in (self.ran_in_preview or ()) else _aws_unreachable():
                    return func(value)
            except Exception as error:  # noqa: BLE001 - the program's own callback, any failure
                return self._record(error, code)

        return note if self.ran_in_preview is None else run

    def _record(self, error: Exception, code: Any = None) -> str:
        frame = errors.program_frame(error, self.program_root, self.shown_from) or self._defined_at(code)
        where = f"{frame[0]}:{frame[1]}" if frame else "a callback outside the program's files"
        message = str(error).splitlines()[0] if str(error) else ""
        self.failures.append(CallbackFailure(where, f"{type(error).__name__}: {message}".rstrip(": ")))
        return f"{MARKER_PREFIX}{len(self.failures) - 1}"

    def _defined_at(self, code: Any) -> tuple[str, int] | None:
        """Where the program defined the callback, for an error raised before its body ran (a lambda
        taking two arguments where `Output.all(...).apply` passes one list: the TypeError's frames
        are all the SDK's)."""
        if code is None or not errors.is_program_file(code.co_filename, self.program_root):
            return None
        return errors.relative(code.co_filename, self.shown_from), code.co_firstlineno

    def failure_of(self, marker: str) -> CallbackFailure | None:
        match = _MARKER.search(marker)
        if match is None or int(match.group(1)) >= len(self.failures):
            return None
        return self.failures[int(match.group(1))]


class OfflinePreviewError(Exception):
    """An AWS call from the plausible-value pass, which must never reach a real account."""


@contextlib.contextmanager
def _aws_unreachable() -> Iterator[None]:
    """botocore cannot send while a callback the preview did not run runs on plausible values: it
    gets made-up ARNs the CLI's preview never passes it, so a boto3 call there must fail (cannot
    decide), never act on a real account the environment's credentials reach."""
    httpsession = sys.modules.get("botocore.httpsession")
    session = getattr(httpsession, "URLLib3Session", None)
    if session is None:
        yield
        return
    original = session.send

    def send(self: Any, request: Any) -> Any:
        raise OfflinePreviewError(f"the offline preview does not call AWS ({request.url})")

    session.send = send
    try:
        yield
    finally:
        session.send = original


def first_marker(value: Any) -> str | None:
    """The first failed-callback marker inside `value` (a string holding one, at any depth)."""
    if isinstance(value, str):
        match = _MARKER.search(value)
        return match.group(0) if match else None
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return None
    for item in items:
        found = first_marker(item)
        if found is not None:
            return found
    return None


def scrub(value: Any, path: str, found: dict[str, str]) -> Any:
    """`value` with every string holding a marker replaced by the unknown sentinel; {path: marker} in `found`."""
    if isinstance(value, str):
        match = _MARKER.search(value)
        if match is None:
            return value
        found[path] = match.group(0)
        return UNKNOWN
    if isinstance(value, dict):
        return {key: scrub(item, f"{path}.{key}" if path else str(key), found) for key, item in value.items()}
    if isinstance(value, list):
        return [
            scrub(item, f"{path}.{index}" if path else str(index), found) for index, item in enumerate(value)
        ]
    return value
