"""The drill's FILE_PROCESSOR: the built-in indexer, with the slow file taking as long as a large one."""

from __future__ import annotations

import os
import time

from sandbox.drill_files import SLOW_MARKER
from worker.events import S3ObjectEvent
from worker.indexer import index_file


def process(event: S3ObjectEvent) -> None:
    if SLOW_MARKER in event.key.rsplit("/", 1)[-1]:
        time.sleep(float(os.environ["DRILL_SLOW_SECONDS"]))
    index_file(event)
