"""Job slots: one child process each (worker/child.py), driven by one thread of the worker.

`Slot.run(event, deadline)` returns only when the call has ended *and*, if it had to be stopped,
when its process is gone (killed, then reaped). That is what lets the consumer promise that a
message is released or dead-lettered only after its job has stopped, and that the slot stays taken
until then: the next job of this slot cannot start before the previous process has exited.

The children are started with the `spawn` method: a fresh interpreter that shares no threads,
locks or sockets with the worker (forking a threaded process can deadlock, and a forked boto3
connection would be shared by two processes).

A job is a process group: each child starts its own session (worker/child.py), so every program a
processor starts (a PDF or OCR tool) is in the child's group, even after it is re-parented to init.
At the deadline, after a crash and at shutdown the whole group gets SIGTERM, then SIGKILL, and the
slot is free only when no process of the group remains (setsid(2), kill(2): a negative pid signals
the group). Under systemd the unit's control group is the outer net (KillMode in
worker/file-processor.service).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from worker.child import JobResult, serve
from worker.events import S3ObjectEvent

log = logging.getLogger("worker.jobs")

POLL_SECONDS = 0.2
"""How often a waiting slot asks whether to abort (the deadline itself is waited for exactly)."""
START_TIMEOUT_SECONDS = 120.0
KILL_WAIT_SECONDS = 30.0
TERM_GRACE_SECONDS = 1.0
"""How long a job's processes get between SIGTERM and SIGKILL (a tool may clean up its temp files)."""
GROUP_POLL_SECONDS = 0.05
PROC = Path("/proc")

_context = multiprocessing.get_context("spawn")


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of process group `group`, read from /proc (proc(5): the state
    and pgrp fields of /proc/PID/stat). Without /proc: [group] while kill(-group, 0) finds one."""
    if not PROC.is_dir():
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [group]
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(group) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def stop_group(group: int) -> None:
    """SIGTERM the whole group, SIGKILL what is left after TERM_GRACE_SECONDS, and return only when
    no process of it remains."""
    for signum, wait_seconds in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, KILL_WAIT_SECONDS)):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            return
        except PermissionError:  # a member changed its user: the rest still got the signal
            pass
        deadline = time.monotonic() + wait_seconds
        while group_members(group):
            if time.monotonic() >= deadline:
                break
            time.sleep(GROUP_POLL_SECONDS)
        else:
            return
    while members := group_members(group):  # SIGKILL cannot be ignored: only a process stuck in the kernel
        log.error("processes of a stopped job did not exit after SIGKILL", extra={"pids": members})
        time.sleep(KILL_WAIT_SECONDS)


class Slot:
    """One processing slot: a child process, started on first use and again after it was stopped."""

    def __init__(self, name: str, spec: str, environ: Mapping[str, str]) -> None:
        self.name = name
        self._spec = spec
        self._environ = dict(environ)
        self._process: Any = None
        self._connection: Any = None
        self._group: int | None = None
        """The child's process group (its pid, once it has started its own session)."""
        self.starts = 0
        self.kills = 0
        self.busy = threading.Event()
        """Set while a call runs in this slot's process (tests and the heartbeat log read it)."""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, abort: Callable[[], bool] = lambda: False) -> JobResult:
        """Start the child and wait until it has loaded the processor ('ready', or 'fatal' and why);
        `abort()` true (the worker is stopping) stops the start-up ('aborted')."""
        parent_end, child_end = _context.Pipe()
        process = _context.Process(
            target=serve,
            args=(child_end, self._spec, self._environ, os.getpid()),
            name=f"worker-{self.name}",
            daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._connection = process, parent_end
        self.starts += 1
        started_at = time.monotonic()
        while not parent_end.poll(POLL_SECONDS):
            if abort():
                self.stop()
                return JobResult(
                    "aborted", "WorkerShutdown", "the processing process was stopped while starting"
                )
            if time.monotonic() - started_at > START_TIMEOUT_SECONDS:
                self.stop()
                return JobResult(
                    "fatal", "ProcessorStartTimeout", "the processing process did not start in time"
                )
        try:
            result: JobResult = parent_end.recv()
        except (EOFError, OSError):
            exit_text = self._reap()
            return JobResult("fatal", "ProcessorStartFailed", f"the processing process {exit_text} at start")
        self._group = process.pid if _own_group(process.pid) else None  # it answers after setsid()
        if result.kind != "ready":
            self.stop()
        return result

    def ensure_started(self) -> JobResult:
        """Start a new child if the last one was stopped or died (a killed job's successor starts
        before the next message is taken, so its start-up does not eat into that job's deadline)."""
        if self._process is not None and self._process.is_alive():
            return JobResult("ready")
        if self._process is not None:
            self._reap()
        return self.start()

    def run(self, event: S3ObjectEvent, deadline: float, abort: Callable[[], str | None]) -> JobResult:
        """Run one call; returns when it ended, and when it was stopped, after its process is gone.
        A child started here (the previous one died in the same message) gets its start-up time added."""
        if self._process is None or not self._process.is_alive():
            before = time.monotonic()
            started = self.ensure_started()
            if started.kind != "ready":
                return started
            deadline += time.monotonic() - before
        self.busy.set()
        try:
            return self._run(event, deadline, abort)
        finally:
            self.busy.clear()

    def _run(self, event: S3ObjectEvent, deadline: float, abort: Callable[[], str | None]) -> JobResult:
        try:
            self._connection.send(event)
        except (OSError, ValueError):
            return JobResult("crashed", "ProcessorCrashed", f"the processing process {self._reap()}")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                return JobResult(
                    "timed_out",
                    "ProcessingTimedOut",
                    f"{event.key}: processing passed its deadline and was stopped",
                )
            why = abort()
            if why:
                self.stop()
                return JobResult("aborted", why, f"{event.key}: stopped ({why})")
            try:
                ready = self._connection.poll(min(POLL_SECONDS, remaining))
            except (OSError, EOFError):
                ready = True
            if not ready:
                continue
            try:
                result: JobResult = self._connection.recv()
                return result
            except (EOFError, OSError):
                return JobResult(
                    "crashed", "ProcessorCrashed", f"{event.key}: the processing process {self._reap()}"
                )

    def stop(self) -> None:
        """Stop the job's whole process group (if any) and wait until all of it is gone."""
        if self._process is None:
            return
        if self._process.is_alive():
            self.kills += 1
            if self._group is None and _own_group(self._process.pid):
                self._group = self._process.pid
            if self._group is not None:
                stop_group(self._group)
            if self._process.is_alive():  # killed before it started its session: it started nothing yet
                self._process.kill()
        self._reap()

    def close(self) -> None:
        """Shutdown: let an idle child exit on its own (end of input), else kill it."""
        if self._process is None:
            return
        try:
            self._connection.close()
        except OSError:
            pass
        self._process.join(2)
        self.stop()

    def _reap(self) -> str:
        process = self._process
        process.join(KILL_WAIT_SECONDS)
        if process.is_alive():  # SIGKILL cannot be ignored: only a process stuck in the kernel gets here
            log.error("processing process did not exit after SIGKILL", extra={"pid": process.pid})
            process.join()
        text = _describe_exit(process.exitcode)
        if self._group is not None:  # what the job started outlives it (a crash, an idle exit): stop it too
            stop_group(self._group)
        try:
            self._connection.close()
        except OSError:
            pass
        self._process, self._connection, self._group = None, None, None
        return text


def _own_group(pid: int) -> bool:
    """True when `pid` leads its own process group (never signal the worker's own group)."""
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False
