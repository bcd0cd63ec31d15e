"""Processors for the worker tests, importable by name (FILE_PROCESSOR=tests.worker.processors:NAME).

They run in the worker's child processes. Each records every call as a file in MARKER_DIR (one
line per call), so a test can count how often each key was processed, across processes; and each
call holds an exclusive `flock` on a per-key file while it runs: a second call for the same key
while the first still runs (or its process is not yet gone) finds the lock taken and records a
violation. The kernel drops the lock only when the holding process is gone, so a killed call holds
it until it has really stopped.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from botocore.exceptions import ClientError

from worker import PermanentError, S3ObjectEvent


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()


def record_call(event: S3ObjectEvent, note: str = "called") -> int:
    """Append one line for this key; returns how many calls the key has had, this one included."""
    marker = Path(os.environ["MARKER_DIR"]) / _digest(event.key)
    with marker.open("a", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(f"{event.key}\t{note}\t{os.getpid()}\n")
    return len(marker.read_text(encoding="utf-8", errors="surrogateescape").splitlines())


def record_done(event: S3ObjectEvent) -> None:
    marker = Path(os.environ["MARKER_DIR"]) / (_digest(event.key) + ".done")
    with marker.open("a", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(f"{event.key}\n")


def completions(marker_dir: Path, key: str) -> int:
    marker = marker_dir / (_digest(key) + ".done")
    return len(marker.read_text(encoding="utf-8").splitlines()) if marker.exists() else 0


def calls(marker_dir: Path, key: str) -> list[str]:
    marker = marker_dir / _digest(key)
    return marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []


def overlaps(marker_dir: Path) -> list[str]:
    """Keys that had two calls at once (see `exclusive`)."""
    violations = marker_dir / "overlaps"
    return violations.read_text(encoding="utf-8").splitlines() if violations.exists() else []


def running_pids(marker_dir: Path) -> list[int]:
    """Processes that are running a call now (their pid file exists and the process is alive)."""
    alive = []
    for entry in (marker_dir / "running").glob("*") if (marker_dir / "running").exists() else ():
        pid = int(entry.name)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


class exclusive:  # noqa: N801 - used as a context manager, reads like a statement
    """Hold the key's lock for the duration of the call; record an overlap if it is taken."""

    def __init__(self, event: S3ObjectEvent) -> None:
        self.directory = Path(os.environ["MARKER_DIR"])
        self.event = event

    def __enter__(self) -> exclusive:
        locks = self.directory / "locks"
        locks.mkdir(exist_ok=True)
        self.handle = (locks / _digest(self.event.key)).open("a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            with (self.directory / "overlaps").open("a", encoding="utf-8") as violations:
                violations.write(f"{self.event.key}\n")
            fcntl.flock(self.handle, fcntl.LOCK_EX)  # then wait, so the record stays honest
        running = self.directory / "running"
        running.mkdir(exist_ok=True)
        self.pid_file = running / str(os.getpid())
        self.pid_file.write_text(self.event.key, encoding="utf-8", errors="surrogateescape")
        return self

    def __exit__(self, *_: object) -> None:
        self.pid_file.unlink(missing_ok=True)
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def hold_the_gil(seconds: float) -> None:
    """Spin in Python with a switch interval longer than the spin: no other thread of this process
    runs meanwhile (what a C extension that never releases the GIL does)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds + 5)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    finally:
        sys.setswitchinterval(previous)


def by_key_prefix(event: S3ObjectEvent) -> None:
    """Behaviour chosen by the file name: ok-, slow-, perm-, always-, flaky<N>- (fails N times),
    hang- (never returns), crash- (the process is killed, as by the OOM killer), throttled<N>-
    (S3 SlowDown N times), gil- (holds the GIL for SLOW_SECONDS)."""
    with exclusive(event):
        attempt = record_call(event)
        name = event.key.rsplit("/", 1)[-1]
        if name.startswith("slow-"):
            time.sleep(float(os.environ.get("SLOW_SECONDS", "2")))
        elif name.startswith("gil-"):
            hold_the_gil(float(os.environ.get("SLOW_SECONDS", "2")))
        elif name.startswith("hang-"):
            while True:
                time.sleep(3600)
        elif name.startswith("crash-"):
            os.kill(os.getpid(), signal.SIGKILL)
        elif name.startswith("perm-"):
            raise PermanentError(f"{name} can never be indexed")
        elif name.startswith("always-"):
            raise RuntimeError(f"transient failure of {name}")
        elif name.startswith("throttled"):
            failures = int(name[len("throttled") : name.index("-")])
            if attempt <= failures:
                raise ClientError(
                    {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                    "GetObject",
                )
        elif name.startswith("flaky"):
            failures = int(name[len("flaky") : name.index("-")])
            if attempt <= failures:
                raise RuntimeError(f"flaky failure {attempt}/{failures} of {name}")
        record_done(event)


def record_and_index(event: S3ObjectEvent) -> None:
    """Count the call (MARKER_DIR), then index like the worker's default processor."""
    from worker.indexer import index_file

    record_call(event)
    index_file(event)


def index_or_hang(event: S3ObjectEvent) -> None:
    """hang- keys never return (a call past the function timeout); others are counted and indexed by
    the worker's default processor."""
    if event.key.rsplit("/", 1)[-1].startswith("hang-"):
        record_call(event)
        while True:
            time.sleep(3600)
    record_and_index(event)


TOOL = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"  # a stubborn tool: only SIGKILL stops it
    "if os.fork():\n"
    "    os._exit(0)\n"  # daemonised: re-parented to init, as a wrapper script's tool would be
    "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
    "time.sleep(3600)\n"
)


def start_tool(event: S3ObjectEvent) -> None:
    """Start an external program that outlives its starter and ignores SIGTERM (as a hung PDF or OCR
    tool would); its pid goes to MARKER_DIR/tools/<pid>."""
    import subprocess

    tools = Path(os.environ["MARKER_DIR"]) / "tools"
    tools.mkdir(exist_ok=True)
    pid_file = tools / f"{os.getpid()}-{time.monotonic_ns()}"
    subprocess.run([sys.executable, "-c", TOOL, str(pid_file)], check=True)
    while not pid_file.exists() or not pid_file.read_text():
        time.sleep(0.01)


def tool_pids(marker_dir: Path) -> list[int]:
    """The pids of every tool `start_tool` started."""
    directory = marker_dir / "tools"
    return [int(path.read_text()) for path in directory.iterdir()] if directory.exists() else []


def tool_then_hang(event: S3ObjectEvent) -> None:
    """tool-hang-: start a tool, then never return; tool-crash-: start a tool, then die by SIGKILL;
    tool-ok-: start a tool and return (it keeps running after the call)."""
    start_tool(event)
    name = event.key.rsplit("/", 1)[-1]
    if name.startswith("tool-crash-"):
        os.kill(os.getpid(), signal.SIGKILL)
    if name.startswith("tool-hang-"):
        while True:
            time.sleep(3600)


def noisy(event: S3ObjectEvent) -> None:
    """Writes the way libraries and tools do, around the logging module: a library logger (pypdf's
    words), a warning, print, a raw write to fd 2, and a tool writing to its stderr."""
    import logging
    import subprocess
    import warnings

    logging.getLogger("pypdf._reader").warning("invalid pdf header: b'\\x00\\x01'")
    warnings.warn("EOF marker not found", UserWarning, stacklevel=1)
    print(f"printed by the processor for {event.key}")
    os.write(2, b"raw bytes on fd 2\n")
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('tool complains\\n')"], check=True)
    record_call(event)
