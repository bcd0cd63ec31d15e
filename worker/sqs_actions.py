"""The one place that acts on a verdict: delete (batched), release with backoff, or dead-letter.

Deletes are collected for a moment and sent ten at a time; `DeleteMessageBatch` answers HTTP 200
even when entries fail, so every entry of the answer is checked, failed ones are retried, and a
delete that still fails is logged with the message id and counted as `MessageDeleteFailed`: the
signature of the incident, made visible instead of silent.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from worker import metrics
from worker.errors import error_code
from worker.inflight import InFlightMessage, handle_lost, mark_lost
from worker.outcomes import Action, Verdict, dead_letter_attributes, fifo_send_arguments, last_receive_verdict
from worker.startup import QueueSettings

__all__ = ["DeleteBatcher", "MessageActions", "Plan", "QueueSettings", "backoff_seconds", "plan"]

log = logging.getLogger("worker.actions")

SQS_BATCH_SIZE = 10
DELETE_ATTEMPTS = 3
DELETE_RETRY_PAUSE_SECONDS = 0.2
DELETE_SENDERS = 2
"""Batches in flight at once: the next batch need not wait for the previous one's round trip."""


def backoff_seconds(receive_count: int, base_seconds: float, visibility_timeout: int) -> int:
    """Grows with the receive count (base, 2x base, 4x base, ...), capped at the queue's visibility."""
    return int(min(base_seconds * 2 ** max(receive_count - 1, 0), visibility_timeout))


@dataclass(frozen=True)
class Plan:
    """What to do with a message: `action`, on `verdict` (on the last receive, the verdict that says
    so), released after `release_seconds` when the action is a release."""

    action: Action
    verdict: Verdict
    release_seconds: int = 0


def plan(verdict: Verdict, receive_count: int, settings: QueueSettings, retry_base_seconds: float) -> Plan:
    """The one outcome -> SQS action mapping both consumers use (the EC2 worker's `MessageActions`
    and the Lambda handler, as Powertools' batch utility keeps one processor for every record):
    delete; dead-letter; on the last receive the queue allows (with a DLQ), dead-letter what would
    be released, saying so; else release, at once or after the backoff."""
    if verdict.action is not Action.RELEASE:
        return Plan(verdict.action, verdict)
    limit = settings.max_receive_count
    if limit is not None and receive_count >= limit and settings.dlq_url:
        return Plan(Action.DEAD_LETTER, last_receive_verdict(verdict, receive_count, limit))
    if verdict.outcome.releases_at_once:
        return Plan(Action.RELEASE, verdict, 0)
    return Plan(
        Action.RELEASE,
        verdict,
        backoff_seconds(receive_count, retry_base_seconds, settings.visibility_timeout),
    )


class DeleteBatcher(threading.Thread):
    """Collects receipt handles and deletes them in batches of up to ten: a batch leaves when it is
    full or `max_delay` after its first message, and up to DELETE_SENDERS batches are sent at once."""

    def __init__(
        self, sqs: Any, queue_url: str, metrics_sink: metrics.Metrics, max_delay: float = 0.05
    ) -> None:
        super().__init__(name="delete-batcher", daemon=True)
        self._sqs = sqs
        self._queue_url = queue_url
        self._metrics = metrics_sink
        self._max_delay = max_delay
        self._pending: queue.Queue[InFlightMessage | None] = queue.Queue()
        self._senders = ThreadPoolExecutor(DELETE_SENDERS, thread_name_prefix="delete")
        self._counts_lock = threading.Lock()
        self._closing = threading.Lock()
        self._closed = False
        self.requests = 0
        self.deleted = 0

    def delete(self, message: InFlightMessage) -> None:
        """Queue the delete; after `close`, delete at once (a receive that ended after the stop)."""
        with self._closing:
            if not self._closed:
                self._pending.put(message)
                return
        self._delete_batch([message])

    def close(self) -> None:
        """Delete everything still pending, then stop."""
        with self._closing:
            self._closed = True
            self._pending.put(None)
        self.join()
        self._senders.shutdown(wait=True)

    def run(self) -> None:
        closing = False
        while not closing:
            first = self._pending.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self._max_delay
            while len(batch) < SQS_BATCH_SIZE:
                try:
                    item = self._pending.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._senders.submit(self._delete_batch, batch)

    def _delete_batch(self, batch: list[InFlightMessage]) -> None:
        remaining = {str(position): message for position, message in enumerate(batch)}
        errors: dict[str, str] = {}
        lost: set[str] = set()
        for attempt in range(DELETE_ATTEMPTS):
            if attempt:
                time.sleep(DELETE_RETRY_PAUSE_SECONDS * attempt)
            entries = [{"Id": key, "ReceiptHandle": m.receipt_handle} for key, m in remaining.items()]
            try:
                with self._counts_lock:
                    self.requests += 1
                response = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except Exception as error:  # noqa: BLE001 - botocore already retried; try again, then report
                errors = dict.fromkeys(remaining, f"{type(error).__name__}: {error}")
                continue
            failed = response.get("Failed", [])
            errors = {f["Id"]: f"{f.get('Code')}: {f.get('Message', '')}" for f in failed}
            lost = {f["Id"] for f in failed if handle_lost(f.get("Code"), f.get("Message"))}
            with self._counts_lock:
                self.deleted += len(response.get("Successful", []))
            remaining = {key: message for key, message in remaining.items() if key in errors}
            if not remaining:
                return
        for key, message in remaining.items():
            self._metrics.count(metrics.DELETE_FAILED)
            log.error(
                "delete failed after retries; the message will come back after its visibility timeout",
                extra={
                    "message_id": message.message_id,
                    "error": errors.get(key, "unknown"),
                    "attempts": DELETE_ATTEMPTS,
                },
            )
            if key in lost:  # the handle no longer holds the message: it may be processed elsewhere
                mark_lost(message, self._metrics, "delete refused", errors[key])


class MessageActions:
    """Turns a verdict into SQS calls. The DLQ is the queue's own redrive target (QueueSettings.dlq_url).

    On the last receive the queue allows (`ApproximateReceiveCount >= maxReceiveCount`) a message that
    would be released is dead-lettered explicitly instead, with its last error as the reason: released,
    SQS would move it to the DLQ on the next receive with no word of why.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_settings: QueueSettings,
        metrics_sink: metrics.Metrics,
        deleter: DeleteBatcher,
        retry_base_seconds: float,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dlq_url = queue_settings.dlq_url
        self._settings = queue_settings
        self._metrics = metrics_sink
        self._deleter = deleter
        self._retry_base_seconds = retry_base_seconds

    def is_last_receive(self, message: InFlightMessage) -> bool:
        limit = self._settings.max_receive_count
        return limit is not None and message.receive_count >= limit

    def apply(self, message: InFlightMessage, verdict: Verdict) -> Action:
        """Act on the verdict; returns what was done (a dead letter whose copy failed is released)."""
        for name in verdict.outcome.counted_as:
            self._metrics.count(name)
        todo = plan(verdict, message.receive_count, self._settings, self._retry_base_seconds)
        if todo.action is Action.DELETE:
            self._deleter.delete(message)
            return Action.DELETE
        if todo.action is Action.DEAD_LETTER:
            return self.dead_letter(message, todo.verdict)
        self.release(message, todo.release_seconds)
        return Action.RELEASE

    def backoff(self, message: InFlightMessage) -> int:
        return backoff_seconds(
            message.receive_count, self._retry_base_seconds, self._settings.visibility_timeout
        )

    def release(self, message: InFlightMessage, visibility_seconds: int) -> None:
        """Make the message visible again after `visibility_seconds` (0: at once)."""
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=visibility_seconds,
            )
            self._metrics.count(metrics.RELEASED)
        except Exception as error:  # noqa: BLE001 - it reappears after its current visibility anyway
            if handle_lost(error_code(error), str(error)):
                mark_lost(message, self._metrics, "release refused", str(error))
                return
            log.warning(
                "release failed; the message reappears when its visibility expires",
                extra={"message_id": message.message_id, "error": str(error)},
            )

    def release_all_now(self, messages: list[InFlightMessage]) -> None:
        """Shutdown: hand messages that never started back at once, in batches."""
        for start in range(0, len(messages), SQS_BATCH_SIZE):
            chunk = messages[start : start + SQS_BATCH_SIZE]
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=self._queue_url, Entries=entries
                )
                self._metrics.count(metrics.RELEASED, len(response.get("Successful", [])))
            except Exception as error:  # noqa: BLE001 - they reappear after their visibility timeout anyway
                log.warning("release at shutdown failed: %s", error)

    def dead_letter(self, message: InFlightMessage, verdict: Verdict) -> Action:
        """Copy the message to the DLQ with the reason, then delete the original. If the copy fails the
        original is released instead (never deleted uncopied), so it is retried or redriven by SQS."""
        if not self._dlq_url:
            log.error(
                "no DLQ (ALLOW_NO_REDRIVE_POLICY): releasing a message that should be dead-lettered",
                extra={"message_id": message.message_id, "reason": verdict.reason},
            )
            self.release(message, self._settings.visibility_timeout)
            return Action.RELEASE
        attributes = dead_letter_attributes(
            verdict, message.message_id, message.receive_count, self._queue_url.rsplit("/", 1)[-1]
        )
        try:
            self._sqs.send_message(
                QueueUrl=self._dlq_url,
                MessageBody=message.body,
                MessageAttributes=attributes,
                **fifo_send_arguments(self._dlq_url, message.message_id, message.group_id),
            )
        except Exception as error:  # noqa: BLE001
            log.error(
                "copy to the DLQ failed; releasing the message instead",
                extra={"message_id": message.message_id, "error": str(error)},
            )
            self.release(message, self.backoff(message))
            return Action.RELEASE
        self._metrics.count(metrics.DEAD_LETTERED)
        self._deleter.delete(message)
        return Action.DEAD_LETTER
