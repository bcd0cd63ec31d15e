"""Start `python -m worker` the way systemd does (environment only), for the process tests."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

from tests.paths import REPO_ROOT


def start_worker(pipeline, endpoint: str, marker_dir, processing_timeout_seconds: float = 30, **extra: str):
    settings = {
        "FILE_PROCESSOR": "tests.worker.processors:by_key_prefix",
        "MARKER_DIR": str(marker_dir),
        "WORKER_CONCURRENCY": "4",
        "RECEIVE_WAIT_SECONDS": "1",
        "METRIC_FLUSH_SECONDS": "1",
        "RETRY_BACKOFF_BASE_SECONDS": "0",
        "SHUTDOWN_GRACE_SECONDS": "2",
        "PYTHONPATH": str(REPO_ROOT),
        **extra,
    }
    environment = pipeline.worker_environment(
        endpoint, processing_timeout_seconds=processing_timeout_seconds, **settings
    )
    for key, value in list(environment.items()):
        if value is None:
            del environment[key]
    return subprocess.Popen(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(worker: subprocess.Popen, message: str, timeout: float = 60) -> str:
    """The worker's output up to its first log line whose message is `message` (instead of a fixed
    sleep: as long as start-up takes, no longer); fails after `timeout` seconds. Reads the pipe's file
    descriptor (no buffering), so `stop_worker` returns the rest."""
    read, deadline = b"", time.monotonic() + timeout
    descriptor = worker.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(descriptor, 65536) if ready else b""
        if ready and not chunk:
            break  # the worker exited
        read += chunk
        text = read.decode(errors="replace")
        if any(entry.get("message") == message for entry in log_lines(text)):
            return text
    raise AssertionError(
        f"no {message!r} line within {timeout} s; output so far:\n{read.decode(errors='replace')}"
    )


def stop_worker(worker: subprocess.Popen, timeout: float = 30) -> str:
    """SIGTERM, wait, return the output (the worker must exit by itself)."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        output, _ = worker.communicate(timeout=timeout)
    finally:
        worker.kill()
    return output


def log_lines(output: str) -> list[dict]:
    lines = []
    for line in output.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines
