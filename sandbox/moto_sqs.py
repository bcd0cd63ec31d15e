"""moto's ReceiveMessage made atomic, so the local AWS hands a message to one receive at a time.

moto 5.2's `SQSBackend.receive_message` scans the queue and marks messages received without a lock;
its server answers requests in threads, so two receives at once (two workers, or the emulated
event source mapping's pollers) can both take the same visible message. The drill saw it on a loaded
machine: one file indexed twice, "the same message handled at receive count 1 and then 2 by two
workers", with no visibility lapse and nothing any worker could notice. SQS hands a received message
to no other receive while its visibility timeout runs
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).
Here the scan runs under one lock; the long poll's wait runs outside it.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

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
                if time.monotonic() >= polling_end:
                    # As moto (and SQS) do: a long poll that ran out answers empty, without scanning
                    # again for messages whose visibility ended meanwhile.
                    return []

        receive_message.serialised = True  # type: ignore[attr-defined]
        SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
