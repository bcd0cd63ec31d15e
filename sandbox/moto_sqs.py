"""moto's ReceiveMessage made atomic, so the local AWS hands a message to one receive at a time.

moto 5.2's `SQSBackend.receive_message` scans the queue and marks messages received without a lock;
its server answers requests in threads, so two receives at once (two workers, or the emulated
event source mapping's pollers) can both take the same visible message. The drill saw it on a loaded
machine: one file indexed twice, "the same message handled at receive count 1 and then 2 by two
workers", with no visibility lapse and nothing any worker could notice. SQS hands a received message
to no other receive while its visibility timeout runs
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).
Here the scan runs under one lock; the long poll's wait runs outside it.

`without_depth_costs` removes two of moto's per-message costs that grow with the queue's depth and
give the same answers in less CPU (bench/moto_server.py, docs/benchmarks.md): the retention check of
each received message builds *all* of the queue's attributes three times (three of them count every
message in the queue), and every visibility test reads the clock through two `datetime`
constructions. Unpatched, a receive of 10 from a queue 400 deep costs about 0.3 s of moto's CPU.
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import datetime
from typing import Any

from moto.core import utils as moto_utils
from moto.sqs import models as sqs_models
from moto.sqs.models import SQSBackend

_scan = threading.Lock()
_installed = threading.Lock()
IDLE_POLL_SECONDS = 0.05


def serialise_receives() -> None:
    """Patch moto's SQS backend in this process (idempotent)."""
    with _installed:
        original = SQSBackend.receive_message
        if getattr(original, "serialised", False):
            return

        @functools.wraps(original)
        def receive_message(
            self: SQSBackend,
            queue_name: str,
            count: int,
            wait_seconds_timeout: int,
            visibility_timeout: int,
            message_attribute_names: list[str] | None = None,
        ) -> list[Any]:
            polling_end = time.monotonic() + (wait_seconds_timeout or 0)
            while True:
                with _scan:
                    result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
                remaining = polling_end - time.monotonic()
                if result or remaining <= 0:
                    return result
                self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))
                time.sleep(min(IDLE_POLL_SECONDS, max(0.0, polling_end - time.monotonic())))

        receive_message.serialised = True  # type: ignore[attr-defined]
        SQSBackend.receive_message = receive_message  # type: ignore[method-assign]


def _retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """moto's retention check, reading the one attribute it needs instead of all of them."""
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > _unix_time()


def _unix_time(dt: datetime | None = None) -> float:
    """moto's `unix_time` (UTC epoch seconds) without two `datetime`s per call when asked for now."""
    return time.time() if dt is None else moto_utils.unix_time(dt)


def _unix_time_millis(dt: datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


def without_depth_costs() -> None:
    """Patch moto's SQS model in this process (idempotent): same answers, no per-message cost that
    grows with the queue's depth."""
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    sqs_models.unix_time = _unix_time
    sqs_models.unix_time_millis = _unix_time_millis
