"""The fixed file-processing worker: every message processed once or dead-lettered, never looping, never lost.

Run it with `python -m worker`; configuration comes from environment variables (worker/config.py).
"""

from worker.errors import ObjectGone, PermanentError
from worker.events import S3ObjectEvent

__all__ = ["ObjectGone", "PermanentError", "S3ObjectEvent"]
