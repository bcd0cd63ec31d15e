"""The processing side of a job slot: a child process that loads the processor and runs one call at a time.

A processor runs here, never in the worker's own process, so that:
- a call that passes its deadline can be *stopped* (the parent kills this process and waits for it to
  be gone before it releases the message: no second call for the same message while one still runs);
- a processor that holds the GIL (a C extension, a regular expression that backtracks) cannot starve
  the heartbeat, the receiver or the deletes, which all run in the parent;
- a processor that crashes the interpreter (segfault, OOM kill) costs one job, not the worker.

Protocol on the `Connection`: the parent sends `S3ObjectEvent`s; the child answers each with one
`JobResult` (the classification of the call's outcome, made here where the exception is known).
The child asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`, Linux), so a worker
killed with SIGKILL leaves no orphaned call running beside the next worker's retry.
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from worker.errors import ConfigurationError, classify_exception
from worker.events import S3ObjectEvent
from worker.logs import capture_output

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class JobResult:
    """How one processor call ended: `kind` is one of processed, gone, permanent, transient, fatal,
    timed_out, crashed, aborted (the last three are decided by the parent)."""

    kind: str
    error_type: str = ""
    reason: str = ""


def load_processor(spec: str) -> Callable[[S3ObjectEvent], Any]:
    """`package.module:function` -> the callable (FILE_PROCESSOR)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r}: expected 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in function_name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r} cannot be loaded: {error}") from error
    if not callable(target):
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r} is not callable")
    return target


def processor_spec(processor: Callable[..., Any] | str) -> str:
    """The `module:qualname` a child process can import the processor by; ConfigurationError for a
    callable that has no importable name (a lambda, a bound method, a closure)."""
    if isinstance(processor, str):
        return processor
    module = getattr(processor, "__module__", None)
    qualname = getattr(processor, "__qualname__", None)
    if module == "__main__":
        main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = main_spec.name if main_spec is not None else None
    if not module or not qualname or "<" in qualname:
        raise ConfigurationError(
            f"processor {processor!r} has no importable name: it runs in a child process, so give a "
            "module-level function (FILE_PROCESSOR=package.module:function)"
        )
    if inspect.ismethod(processor):
        raise ConfigurationError(f"processor {processor!r} is a bound method; give a module-level function")
    spec = f"{module}:{qualname}"
    load_processor(spec)  # importable by that name (the child will do the same)
    return spec


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent still kills us on shutdown and timeouts
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def warm_up() -> None:
    """Build the built-in indexer's S3 client before the first job (botocore loads its service model
    then, a second or more on a busy machine), so that cost is not charged to a job's deadline."""
    if not os.environ.get("INDEX_BUCKET"):
        return
    try:
        from worker.indexer import default_indexer

        default_indexer()
    except Exception:  # noqa: BLE001 - a warm-up that fails is retried by the first job, which reports it
        return


def serve(connection: Any, spec: str, environ: Mapping[str, str], parent_pid: int) -> None:
    """The child's main loop: one event in, one `JobResult` out, until the parent closes the pipe.
    It first starts a session of its own, so that the job is a process group the parent can stop
    whole, with every program the processor starts (worker/jobs.py)."""
    os.setsid()
    _die_with_parent(parent_pid)
    capture_output()  # JSON log lines, whatever the processor, its libraries or its tools print
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C means
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    os.environ.update(environ)
    try:
        processor = load_processor(spec)
    except ConfigurationError as error:
        connection.send(JobResult("fatal", "ConfigurationError", str(error)))
        return
    warm_up()
    connection.send(JobResult("ready"))
    while True:
        try:
            event = connection.recv()
        except (EOFError, OSError):
            return
        try:
            processor(event)
            result = JobResult("processed")
        except BaseException as error:  # noqa: BLE001 - every outcome is reported, even SystemExit
            kind, error_type, reason = classify_exception(error)
            result = JobResult(kind, error_type, reason)
        connection.send(result)
