"""Start `python -m worker` the way systemd does (environment only), for the process tests."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

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
