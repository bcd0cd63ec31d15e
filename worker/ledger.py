"""Processed-once within this worker: the same object event delivered twice (duplicate notifications,
at-least-once delivery) is processed by the first message and the second is deleted as a duplicate.

Across workers, the built-in indexer adds a second guard: it skips an object whose index document
already records the same ETag and sequencer (see worker/indexer.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

REMEMBERED_EVENTS = 10_000


class EventLedger:
    def __init__(self, remembered: int = REMEMBERED_EVENTS) -> None:
        self._lock = threading.Lock()
        self._in_progress: dict[Hashable, threading.Event] = {}
        self._done: OrderedDict[Hashable, None] = OrderedDict()
        self._remembered = remembered

    def claim(self, identity: Hashable, wait_seconds: float) -> bool:
        """True: the caller processes the event. False: it is done already (by this or a concurrent
        message, waited for up to `wait_seconds`), so the caller's message is a duplicate."""
        while True:
            with self._lock:
                if identity in self._done:
                    return False
                running = self._in_progress.get(identity)
                if running is None:
                    self._in_progress[identity] = threading.Event()
                    return True
            if not running.wait(wait_seconds):
                return True  # the other one is taking too long; process it ourselves
            wait_seconds = 0  # it finished: loop once more to see whether it succeeded

    def finish(self, identity: Hashable, succeeded: bool) -> None:
        with self._lock:
            running = self._in_progress.pop(identity, None)
            if succeeded:
                self._done[identity] = None
                if len(self._done) > self._remembered:
                    self._done.popitem(last=False)
        if running is not None:
            running.set()
