"""The messages this worker holds, and the heartbeat that keeps them invisible while they are worked on.

A message is received (it waits in the local buffer, then a slot takes it), then exactly one party
settles it: the slot that ran its job (after the job's process has stopped, however it ended), or
shutdown for a message still waiting in the buffer. `settle()` is that hand-off, atomic.
The heartbeat runs in the worker's process while jobs run in child processes, so a busy processor
cannot starve it.

Lost messages: the worker's idea of when a message becomes visible again is a lower bound (counted
from the moment the receive or extension request was *sent*: SQS starts the clock when it answers,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html).
A message whose extension is refused for its receipt handle (ReceiptHandleIsInvalid, MessageNotInflight,
InvalidParameterValue "receipt handle has expired":
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html),
whose extension is answered only after that bound, or that reaches the bound unextended, is *lost*:
SQS may hand it to another consumer. `mark_lost` logs and counts it (`MessageVisibilityLost`) once,
and its job is stopped rather than left to run beside a second call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker import metrics
from worker.contract import SQS_MAX_VISIBILITY_SECONDS

log = logging.getLogger("worker.heartbeat")

LOST_HANDLE_CODES = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight"}
)
"""Error codes that say the receipt handle no longer holds the message (ChangeMessageVisibility and
DeleteMessage: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html)."""
EXPIRED_HANDLE_TEXT = "receipt handle has expired"
"""SQS answers InvalidParameterValue with this text for a handle whose visibility ran out."""

CHANGE_VISIBILITY_BATCH_SIZE = 10


@dataclass
class InFlightMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    received_at: float = field(default_factory=time.monotonic)
    group_id: str | None = None
    """A FIFO queue's MessageGroupId (its dead letter keeps it)."""
    deadline: float = float("inf")
    started_at: float | None = None
    """When a slot took the message out of the buffer (None while it waits)."""
    visible_at: float = 0.0
    """The earliest SQS may show the message again unless the heartbeat extends it (monotonic seconds,
    counted from when the receive or extension was sent: a lower bound)."""
    lapses_by: float = float("inf")
    """The latest it becomes visible again without an extension (counted from when the answer came)."""
    settled_by: str | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    """Set when the visibility ran out or the receipt handle was refused: SQS may hand the message to
    another worker now, so its job is stopped rather than left to run beside a second call."""
    lost_reported: bool = False
    """`mark_lost` logged and counted it (once per message)."""


def handle_lost(code: str | None, text: str | None) -> bool:
    """True when an SQS error (code and message) says the receipt handle no longer holds the message."""
    if code in LOST_HANDLE_CODES:
        return True
    return code == "InvalidParameterValue" and EXPIRED_HANDLE_TEXT in (text or "").lower()


def mark_lost(
    message: InFlightMessage, sink: metrics.Metrics | None, how: str, detail: str = "", stop: bool = True
) -> None:
    """The message's visibility is gone: log and count it once, and unless `stop` is False (SQS took
    a late extension, so the handle still held it) stop its job (the slot watches `lost`)."""
    with _lost_lock:
        if stop:
            message.lost.set()
        if message.lost_reported:
            return
        message.lost_reported = True
    if sink is not None:
        sink.count(metrics.VISIBILITY_LOST)
    log.error(
        "message lost: its visibility ran out, SQS may hand it to another consumer",
        extra={
            "message_id": message.message_id,
            "how": how,
            "detail": detail,
            "receive_count": message.receive_count,
            "held_seconds": round(time.monotonic() - message.received_at, 2),
        },
    )


_lost_lock = threading.Lock()


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, InFlightMessage] = {}
        self.changed = threading.Condition(self._lock)

    def add(self, message: InFlightMessage) -> None:
        with self._lock:
            self._messages[message.receipt_handle] = message

    def settle(self, message: InFlightMessage, by: str) -> bool:
        """Take the message out of flight; False when someone else already settled it."""
        with self._lock:
            if message.settled_by is not None:
                return False
            message.settled_by = by
            self._messages.pop(message.receipt_handle, None)
            self.changed.notify_all()
            return True

    def snapshot(self) -> list[InFlightMessage]:
        with self._lock:
            return list(self._messages.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def wait_for_room(self, room: Callable[[int], int], stop: threading.Event, timeout: float = 1.0) -> int:
        """Block until `room(held)` is positive (or stop); returns it."""
        with self._lock:
            while not stop.is_set():
                free = room(len(self._messages))
                if free > 0:
                    return free
                self.changed.wait(timeout)
            return 0

    def wait_until_empty(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        with self._lock:
            while self._messages:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True


class Heartbeat(threading.Thread):
    """Extends the visibility of every held message (waiting or running) before it can expire, in
    batches of ten. Deadlines are not its business: the slot running a job stops it."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        inflight: InFlight,
        visibility_timeout: int,
        interval: float,
        sink: metrics.Metrics | None = None,
    ) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self._metrics = sink
        self._sqs = sqs
        self._queue_url = queue_url
        self._inflight = inflight
        self._visibility_timeout = visibility_timeout
        self._interval = interval
        self._stop_event = threading.Event()
        self.extensions = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the heartbeat must survive a failed beat
                log.exception("heartbeat failed; retrying at the next interval")

    def beat(self) -> None:
        """Extend every held message not extended within the last quarter interval: a message received
        just after a beat is extended at the next one, with most of its visibility still to run, so a
        beat that comes late on a loaded machine still comes in time."""
        now = time.monotonic()
        due = []
        for message in self._inflight.snapshot():
            if message.lost.is_set():
                continue
            if now >= message.lapses_by:  # certainly visible again: another consumer may hold it
                mark_lost(
                    message, self._metrics, "not extended in time", f"late by {now - message.lapses_by:.2f} s"
                )
            elif message.visible_at - now <= self._visibility_timeout - self._interval / 4:
                due.append(message)  # past `visible_at` too: `_extend` reports it if it came too late
        for start in range(0, len(due), CHANGE_VISIBILITY_BATCH_SIZE):
            self._extend(due[start : start + CHANGE_VISIBILITY_BATCH_SIZE])

    def _extend(self, messages: list[InFlightMessage]) -> None:
        now = time.monotonic()
        entries, extensions = [], {}
        for position, message in enumerate(messages):
            held_for = now - message.received_at
            extension = int(min(self._visibility_timeout, SQS_MAX_VISIBILITY_SECONDS - held_for - 1))
            if extension <= 0:
                continue
            entries.append(
                {"Id": str(position), "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": extension}
            )
            extensions[str(position)] = extension
        if not entries:
            return
        response = self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
        answered = time.monotonic()
        for success in response.get("Successful", []):
            message = messages[int(success["Id"])]
            if message.settled_by is not None:  # deleted or released meanwhile: no longer ours to keep
                continue
            if answered >= message.visible_at:  # SQS may have handed it out before the extension arrived
                mark_lost(
                    message,
                    self._metrics,
                    "extension came too late",
                    f"answered {answered - message.visible_at:.2f} s after the visibility could have run out",
                    # certainly late: stop the job; maybe late and SQS took it: the job goes on
                    stop=now >= message.lapses_by,
                )
            message.visible_at = now + extensions[success["Id"]]
            message.lapses_by = answered + extensions[success["Id"]]
        self.extensions += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            message = messages[int(failure["Id"])]
            if message.settled_by is not None:  # its delete can beat this extension: not a loss
                continue
            if handle_lost(failure.get("Code"), failure.get("Message")):
                mark_lost(
                    message,
                    self._metrics,
                    "extension refused",
                    f"{failure.get('Code')}: {failure.get('Message')}",
                )
                continue
            log.warning(
                "could not extend visibility",
                extra={
                    "message_id": message.message_id,
                    "error": failure.get("Code"),
                    "detail": failure.get("Message"),
                },
            )
