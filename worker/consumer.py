"""The receive loop: long polling, batches of up to ten, bounded concurrency, graceful shutdown.

Receiving, parsing, processing, deciding and acknowledging are separate steps; each message ends in
exactly one `Verdict`, which `MessageActions` turns into SQS calls. Nothing here sleeps for long:
the heartbeat keeps slow jobs invisible, and SIGTERM stops receiving, lets jobs finish within the
grace period, hands the rest back with visibility 0, flushes deletes and metrics, and returns.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from worker import metrics
from worker.config import WorkerConfig
from worker.errors import ObjectGone, PermanentError, ProcessingTimedOut
from worker.events import BodyKind, S3ObjectEvent, parse_body
from worker.inflight import Heartbeat, InFlight, InFlightMessage
from worker.ledger import EventLedger
from worker.outcomes import Action, Outcome, Verdict, combine
from worker.sqs_actions import DeleteBatcher, MessageActions, QueueSettings

log = logging.getLogger("worker")

Processor = Callable[[S3ObjectEvent], Any]
MISSING_OBJECT_CODES = {"NoSuchKey", "404", "NotFound"}
RECEIVE_ERROR_PAUSE_SECONDS = 1.0


def read_queue_settings(sqs: Any, queue_url: str) -> QueueSettings:
    """The queue's own visibility timeout and maxReceiveCount (contract 2: no second copy)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
    max_receive = redrive.get("maxReceiveCount")
    return QueueSettings(
        visibility_timeout=int(attributes["VisibilityTimeout"]),
        max_receive_count=int(max_receive) if max_receive is not None else None,
    )


class Consumer:
    def __init__(
        self,
        config: WorkerConfig,
        sqs: Any,
        cloudwatch: Any,
        processor: Processor,
    ) -> None:
        self.config = config
        self._sqs = sqs
        self._processor = processor
        self.queue_settings = read_queue_settings(sqs, config.queue_url)
        if self.queue_settings.visibility_timeout < config.processing_timeout_seconds:
            log.warning(
                "the queue's visibility timeout is shorter than PROCESSING_TIMEOUT_SECONDS; the heartbeat "
                "keeps messages invisible, but fix the stack (policy visibility-covers-processing)",
                extra={"visibility_timeout": self.queue_settings.visibility_timeout},
            )
        if self.queue_settings.max_receive_count is None:
            log.warning("the queue has no redrive policy: a message that always fails is retried forever")
        queue_name = config.queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.metrics = metrics.Metrics(cloudwatch, config.metric_namespace, {"QueueName": queue_name})
        self.inflight = InFlight()
        self.ledger = EventLedger()
        self.deleter = DeleteBatcher(sqs, config.queue_url, self.metrics)
        self.actions = MessageActions(
            sqs,
            config.queue_url,
            config.dlq_url,
            self.queue_settings,
            self.metrics,
            self.deleter,
            config.retry_backoff_base_seconds,
        )
        interval = config.heartbeat_seconds or max(1.0, self.queue_settings.visibility_timeout / 3)
        self.heartbeat = Heartbeat(
            sqs,
            config.queue_url,
            self.inflight,
            self.queue_settings.visibility_timeout,
            interval,
            self._on_timeout,
        )
        self.stopping = threading.Event()
        self.receive_requests = 0
        self.sqs_requests = 0
        self._sqs_requests_lock = threading.Lock()
        sqs.meta.events.register("before-send.sqs", self._count_sqs_request)

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving (called from the SIGTERM/SIGINT handler; returns at once)."""
        self.stopping.set()

    def run(self) -> None:
        self.deleter.start()
        self.heartbeat.start()
        flusher = threading.Thread(target=self._flush_metrics_periodically, name="metrics", daemon=True)
        flusher.start()
        log.info(
            "worker started",
            extra={
                "queue_url": self.config.queue_url,
                "visibility_timeout": self.queue_settings.visibility_timeout,
                "max_receive_count": self.queue_settings.max_receive_count,
                "concurrency": self.config.concurrency,
            },
        )
        try:
            while not self.stopping.is_set():
                free = self.inflight.wait_for_room(self.config.concurrency, self.stopping)
                if free and not self.stopping.is_set():
                    self._receive(free)
        finally:
            self._shut_down()

    def _receive(self, free_slots: int) -> None:
        try:
            self.receive_requests += 1
            response = self._sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=min(10, free_slots),
                WaitTimeSeconds=self.config.receive_wait_seconds,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        except Exception as error:  # noqa: BLE001 - botocore retried already; pause, then poll again
            log.warning("receive failed: %s", error)
            self.stopping.wait(RECEIVE_ERROR_PAUSE_SECONDS)
            return
        now = time.monotonic()
        for raw in response.get("Messages", []):
            message = InFlightMessage(
                message_id=raw["MessageId"],
                receipt_handle=raw["ReceiptHandle"],
                body=raw.get("Body", ""),
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                received_at=now,
                deadline=now + self.config.processing_timeout_seconds,
                visible_at=now + self.queue_settings.visibility_timeout,
            )
            self.inflight.add(message)
            job = threading.Thread(
                target=self._handle, args=(message,), name=f"job-{message.message_id[:8]}", daemon=True
            )
            job.start()

    # --- one message -----------------------------------------------------------------------------

    def _handle(self, message: InFlightMessage) -> None:
        started = time.monotonic()
        keys: list[str] = []
        try:
            verdict, keys = self._decide(message)
        except Exception as error:  # noqa: BLE001 - a bug here must not lose the message: release it
            log.exception(
                "unexpected error while handling a message", extra={"message_id": message.message_id}
            )
            verdict = Verdict(Outcome.TRANSIENT_FAILURE, reason=str(error), error_type=type(error).__name__)
        if not self.inflight.settle(message, by="job"):
            log.warning(
                "job finished after its message was handed back; result discarded",
                extra={"message_id": message.message_id, "outcome": verdict.outcome.label},
            )
            return
        self.actions.apply(message, verdict)
        duration_ms = (time.monotonic() - started) * 1000
        if verdict.outcome is Outcome.PROCESSED:
            self.metrics.duration(duration_ms)
        level = logging.INFO if verdict.action is Action.DELETE else logging.WARNING
        log.log(
            level,
            "message handled",
            extra={
                "message_id": message.message_id,
                "keys": keys,
                "outcome": verdict.outcome.label,
                "action": verdict.action.value,
                "reason": verdict.reason,
                "receive_count": message.receive_count,
                "duration_ms": round(duration_ms, 1),
            },
        )

    def _decide(self, message: InFlightMessage) -> tuple[Verdict, list[str]]:
        parsed = parse_body(message.body)
        if parsed.kind is BodyKind.TEST_EVENT:
            return Verdict(Outcome.TEST_EVENT), []
        if parsed.kind is BodyKind.NOT_AN_S3_EVENT:
            return Verdict(Outcome.NOT_AN_S3_EVENT, reason=parsed.reason, error_type="NotAnS3Event"), []
        verdicts = []
        for event in parsed.events:
            event = dataclasses.replace(event, deadline=message.deadline)
            verdicts.append(self._process_once(event, message))
        return combine(verdicts), [event.key for event in parsed.events]

    def _process_once(self, event: S3ObjectEvent, message: InFlightMessage) -> Verdict:
        if not self.ledger.claim(event.identity, wait_seconds=max(0.0, event.remaining_seconds())):
            return Verdict(Outcome.DUPLICATE)
        verdict = self._process(event)
        self.ledger.finish(event.identity, succeeded=verdict.action is Action.DELETE)
        return verdict

    def _process(self, event: S3ObjectEvent) -> Verdict:
        try:
            self._processor(event)
        except PermanentError as error:
            return Verdict(Outcome.PERMANENT_FAILURE, reason=str(error), error_type=type(error).__name__)
        except ObjectGone as error:
            log.warning(
                "object gone before processing; deleting the message",
                extra={"key": event.key, "reason": str(error)},
            )
            return Verdict(Outcome.OBJECT_GONE, reason=str(error))
        except ProcessingTimedOut as error:
            return Verdict(Outcome.TIMED_OUT, reason=str(error), error_type="ProcessingTimedOut")
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in MISSING_OBJECT_CODES:
                log.warning("object gone before processing; deleting the message", extra={"key": event.key})
                return Verdict(Outcome.OBJECT_GONE, reason=code)
            return Verdict(Outcome.TRANSIENT_FAILURE, reason=str(error), error_type=code or "ClientError")
        except Exception as error:  # noqa: BLE001 - contract 3: any other exception is transient
            return Verdict(
                Outcome.TRANSIENT_FAILURE,
                reason=str(error) or type(error).__name__,
                error_type=type(error).__name__,
            )
        return Verdict(Outcome.PROCESSED)

    def _on_timeout(self, message: InFlightMessage) -> None:
        """Called by the heartbeat: the job ran past PROCESSING_TIMEOUT_SECONDS; hand it back as transient."""
        if self.inflight.settle(message, by="timeout"):
            log.error(
                "processing timed out; message released for a retry",
                extra={
                    "message_id": message.message_id,
                    "timeout_seconds": self.config.processing_timeout_seconds,
                },
            )
            self.actions.apply(
                message,
                Verdict(Outcome.TIMED_OUT, reason="processing timeout", error_type="ProcessingTimedOut"),
            )

    # --- stopping --------------------------------------------------------------------------------

    def _shut_down(self) -> None:
        log.info(
            "stopping: no more receives; waiting for in-flight jobs", extra={"in_flight": len(self.inflight)}
        )
        finished = self.inflight.wait_until_empty(self.config.shutdown_grace_seconds)
        if not finished:
            unfinished = [m for m in self.inflight.snapshot() if self.inflight.settle(m, by="shutdown")]
            log.warning(
                "grace period over; releasing unfinished messages", extra={"released": len(unfinished)}
            )
            self.actions.release_all_now(unfinished)
        self.heartbeat.stop()
        self.deleter.close()
        self.metrics.flush()
        log.info("stopped", extra={"totals": dict(self.metrics.totals), "sqs_requests": self.sqs_requests})

    def _count_sqs_request(self, **_: Any) -> None:
        with self._sqs_requests_lock:
            self.sqs_requests += 1

    def _flush_metrics_periodically(self) -> None:
        while not self.stopping.wait(self.config.metric_flush_seconds):
            self.metrics.flush()
