"""Did the previous run of the service on this host crash? A marker file answers it.

The worker writes `running` in its state directory once its start-up checks pass, and removes it at
the end of a clean shutdown (SIGTERM, exit 0). A marker found at start-up means the last run ended
some other way: killed (SIGKILL, the OOM killer), an uncaught exception, a fatal stop (exit 3).
`python -m worker` publishes the answer once as `WorkerCrashed` (1 or 0), which the rollout audit
sums for the plan's "no worker crashes" (docs/audit.md).

The directory is WORKER_STATE_DIR, else the unit's `RuntimeDirectory=` that systemd passes in
`$RUNTIME_DIRECTORY` (worker/file-processor.service keeps it across restarts with
`RuntimeDirectoryPreserve=restart` and it is gone after a reboot or a `systemctl stop`; systemd.exec,
https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#RuntimeDirectory=).
Without either there is no marker and nothing is published (local runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from worker.contract import RUNTIME_DIRECTORY, WORKER_STATE_DIR
from worker.errors import ConfigurationError

MARKER_NAME = "running"


def state_directory(environ: Mapping[str, str]) -> Path | None:
    """WORKER_STATE_DIR, else the first of `$RUNTIME_DIRECTORY`'s paths (systemd joins several with
    ':'), else None."""
    override = environ.get(WORKER_STATE_DIR, "").strip()
    if override:
        return Path(override)
    runtime = environ.get(RUNTIME_DIRECTORY, "").strip()
    if runtime:
        return Path(runtime.split(":", 1)[0])
    return None


def begin_run(directory: Path) -> bool:
    """Write the marker; return whether the previous run left one behind (it crashed)."""
    marker = directory / MARKER_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        crashed = marker.exists()
        marker.write_text(f"{os.getpid()}\n")
    except OSError as error:
        raise ConfigurationError(
            f"cannot write the crash marker {marker}: {error.strerror or error}; set {WORKER_STATE_DIR} "
            "to a directory the worker may write (docs/worker.md)"
        ) from error
    return crashed


def end_run(directory: Path) -> None:
    """Remove the marker: this run ended cleanly."""
    (directory / MARKER_NAME).unlink(missing_ok=True)
