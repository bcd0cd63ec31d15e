"""A job is a process group: the programs a processor starts (a PDF or OCR tool, even one that
daemonises and ignores SIGTERM) are stopped with it at the deadline, after a crash and at shutdown,
and the slot is free only when none of them remains. No AWS needed: the slot runs the calls."""

from __future__ import annotations

import os
import time

import pytest

from tests.worker.processors import tool_pids
from worker.events import S3ObjectEvent
from worker.jobs import Slot

SPEC = "tests.worker.processors:tool_then_hang"


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has stopped running)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def event(name: str) -> S3ObjectEvent:
    return S3ObjectEvent(bucket="uploads", key=f"in/{name}", size=1, etag="e")


@pytest.fixture
def slot(marker_dir):
    slot = Slot("slot-test", SPEC, dict(os.environ))
    assert slot.start().kind == "ready"
    yield slot
    slot.close()
    for pid in tool_pids(marker_dir):  # never leave a tool behind, whatever the test found
        if alive(pid):
            os.kill(pid, 9)


def test_a_hung_job_is_stopped_with_every_program_it_started(slot, marker_dir):
    result = slot.run(event("tool-hang-止まる.pdf"), time.monotonic() + 2, lambda: None)
    assert result.kind == "timed_out"
    (tool,) = tool_pids(marker_dir)
    assert not alive(tool)  # gone when run() returns: the slot is free only then


def test_a_crashed_job_leaves_no_program_running(slot, marker_dir):
    result = slot.run(event("tool-crash-落ちる.pdf"), time.monotonic() + 30, lambda: None)
    assert result.kind == "crashed"
    (tool,) = tool_pids(marker_dir)
    assert not alive(tool)


def test_an_aborted_job_and_shutdown_stop_the_whole_group(slot, marker_dir):
    result = slot.run(event("tool-hang-止める.pdf"), time.monotonic() + 60, lambda: "WorkerShutdown")
    assert result.kind == "aborted"
    assert not any(alive(pid) for pid in tool_pids(marker_dir))
    assert slot.run(event("tool-ok-残る.pdf"), time.monotonic() + 30, lambda: None).kind == "processed"
    assert any(alive(pid) for pid in tool_pids(marker_dir))  # a finished call's tool still runs...
    slot.close()
    assert not any(alive(pid) for pid in tool_pids(marker_dir))  # ...until the worker shuts down
