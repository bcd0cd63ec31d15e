"""Processors for the worker tests, importable by name (FILE_PROCESSOR=tests.worker.processors:NAME).

Each records every call as a file in MARKER_DIR (one line per call), so a test can count how often
each key was processed, across threads and processes.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from worker import PermanentError, S3ObjectEvent


def record_call(event: S3ObjectEvent, note: str = "called") -> int:
    """Append one line for this key; returns how many calls the key has had, this one included."""
    marker = Path(os.environ["MARKER_DIR"]) / hashlib.sha1(event.key.encode()).hexdigest()
    with marker.open("a", encoding="utf-8") as handle:
        handle.write(f"{event.key}\t{note}\n")
    return len(marker.read_text(encoding="utf-8").splitlines())


def record_done(event: S3ObjectEvent) -> None:
    marker = Path(os.environ["MARKER_DIR"]) / (hashlib.sha1(event.key.encode()).hexdigest() + ".done")
    with marker.open("a", encoding="utf-8") as handle:
        handle.write(f"{event.key}\n")


def completions(marker_dir: Path, key: str) -> int:
    marker = marker_dir / (hashlib.sha1(key.encode()).hexdigest() + ".done")
    return len(marker.read_text(encoding="utf-8").splitlines()) if marker.exists() else 0


def calls(marker_dir: Path, key: str) -> list[str]:
    marker = marker_dir / hashlib.sha1(key.encode()).hexdigest()
    return marker.read_text(encoding="utf-8").splitlines() if marker.exists() else []


def by_key_prefix(event: S3ObjectEvent) -> None:
    """Behaviour chosen by the file name: ok-, slow-, perm-, always-, flaky<N>- (fails N times)."""
    attempt = record_call(event)
    name = event.key.rsplit("/", 1)[-1]
    if name.startswith("slow-"):
        time.sleep(float(os.environ.get("SLOW_SECONDS", "2")))
    elif name.startswith("perm-"):
        raise PermanentError(f"{name} can never be indexed")
    elif name.startswith("always-"):
        raise RuntimeError(f"transient failure of {name}")
    elif name.startswith("flaky"):
        failures = int(name[len("flaky") : name.index("-")])
        if attempt <= failures:
            raise RuntimeError(f"flaky failure {attempt}/{failures} of {name}")
    record_done(event)
