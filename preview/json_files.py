"""Reading a JSON file the user named, with one clear error (file, line, column) instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path | str, label: str, error_type: type[Exception]) -> Any:
    """The parsed file; `error_type(f"{label}: …")` when it cannot be read or is not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise error_type(f"{label}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise error_type(
            f"{label}:{error.lineno}: not valid JSON: {error.msg} (column {error.colno})"
        ) from error
