"""Files the program writes under build/ (the worker bundle, the function zip) while it renders."""

from __future__ import annotations

import os
from pathlib import Path


def write_build_file(path: Path, data: bytes) -> None:
    """Write `data` aside, then rename it into place: a render running beside this one (two previews, or
    parallel test workers) never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(path)
