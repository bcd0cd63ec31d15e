"""The Lambda entry point (`worker.lambda_handler.handler`): the EC2 worker's handler core, run by an
SQS event source mapping with ReportBatchItemFailures.

Each record's body goes through worker/handler_core.py (`decide`), each S3 object once through the
same processor the EC2 worker runs (FILE_PROCESSOR, default the built-in indexer), called in-process,
its exception classified by worker/errors.py as the worker's child process does. Then:
- deleted outcomes (processed, test event, duplicate, object gone): not listed, so the mapping deletes
  the message;
- permanent failures, and any failure on the last receive (ApproximateReceiveCount >= the queue's
  maxReceiveCount): copied to the DLQ named by the source queue's RedrivePolicy with the same message
  attributes as the EC2 worker's dead letters, deleted at once (so a later timeout of the batch cannot
  bring it back for a second copy), and not listed; a copy that fails is listed;
- transient failures: listed, and made visible again after the EC2 worker's backoff
  (ChangeMessageVisibility), not after the whole visibility timeout (6x the function timeout);
- records not started because the invocation's remaining time is short: listed, made visible at once;
- a worker-fatal error (its own index bucket gone or denied): that record and every unfinished one
  listed, nothing dead-lettered: they come back after the visibility timeout while the alarms fire.
The handler never raises on an SQS event: an exception would fail the whole batch, successes included.
An event that is not from SQS (no SQS message at stake) fails the invocation with a clear error.

Event shape and partial batch responses:
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
Metrics: CloudWatch Embedded Metric Format lines on stdout (worker/metrics.py `EmbeddedMetrics`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker import contract, metrics
from worker.child import load_processor, warm_up
from worker.config import DEFAULT_PROCESSOR, DEFAULT_RETRY_BACKOFF_BASE_SECONDS, boto_config, env_number
from worker.errors import ConfigurationError
from worker.events import S3ObjectEvent
from worker.handler_core import call_processor, decide
from worker.ledger import EventLedger
from worker.outcomes import (
    Action,
    Outcome,
    Verdict,
    dead_letter_attributes,
    fifo_send_arguments,
    handled_fields,
)
from worker.sqs_actions import plan
from worker.startup import QueueSettings, queue_url_from_arn, read_queue_settings

__all__ = ["HandlerSettings", "Runtime", "handle_batch", "handler"]

log = logging.getLogger("worker.lambda")

RESERVE_SECONDS = 2.0
"""No record starts with less than this left of the invocation (time to dead-letter and return), and
each record's deadline is this long before the invocation's end; at most RESERVE_FRACTION of it."""
RESERVE_FRACTION = 0.05
SQS_BATCH_SIZE = 10


@dataclass(frozen=True)
class HandlerSettings:
    """The function's environment (the Lambda function resource sets it)."""

    metric_namespace: str = contract.DEFAULT_METRIC_NAMESPACE
    file_processor: str = DEFAULT_PROCESSOR
    processing_timeout_seconds: float | None = None
    """Per record, besides the invocation's own deadline; None: the invocation's deadline only."""
    retry_backoff_base_seconds: float = DEFAULT_RETRY_BACKOFF_BASE_SECONDS
    declared_max_receive_count: int | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> HandlerSettings:
        """The function's environment, parsed as the EC2 worker's is (worker/config.py `env_number`)."""
        env = os.environ if environ is None else environ

        def number(name: str) -> float | None:
            return env_number(env, name, None, minimum=0)

        backoff = number(contract.RETRY_BACKOFF_BASE_SECONDS)
        declared = number(contract.MAX_RECEIVE_COUNT)
        file_processor = env.get(contract.FILE_PROCESSOR) or DEFAULT_PROCESSOR
        if file_processor == DEFAULT_PROCESSOR and not env.get(contract.INDEX_BUCKET, "").strip():
            # Found per record instead, every file would fail as transient and be dead-lettered on its
            # last receive: the whole queue in the DLQ for a setting. Failing the init returns every
            # batch to the queue untouched, as the EC2 worker's start-up check (exit 2) leaves it.
            raise ConfigurationError(
                f"{contract.INDEX_BUCKET} is not set: the built-in indexer ({DEFAULT_PROCESSOR}) writes its "
                f"documents there; set it in the function's environment (or set {contract.FILE_PROCESSOR})"
            )
        return cls(
            metric_namespace=env.get(contract.METRIC_NAMESPACE) or contract.DEFAULT_METRIC_NAMESPACE,
            file_processor=file_processor,
            processing_timeout_seconds=number(contract.PROCESSING_TIMEOUT_SECONDS) or None,
            retry_backoff_base_seconds=DEFAULT_RETRY_BACKOFF_BASE_SECONDS if backoff is None else backoff,
            declared_max_receive_count=int(declared) if declared is not None else None,
        )


class Runtime:
    """What a cold start builds once: settings, the SQS client, the processor, the duplicate ledger,
    and each source queue's settings (its RedrivePolicy, read once per queue ARN)."""

    def __init__(
        self,
        settings: HandlerSettings,
        sqs: Any,
        processor: Callable[[S3ObjectEvent], Any],
        write_metrics: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sqs = sqs
        self.processor = processor
        self.write_metrics = write_metrics
        self.ledger = EventLedger()
        self._queues: dict[str, tuple[str, QueueSettings]] = {}

    def queue(self, queue_arn: str) -> tuple[str, QueueSettings]:
        """(queue URL, its settings) for the event source ARN; ConfigurationError if unreadable."""
        if queue_arn not in self._queues:
            url = queue_url_from_arn(self.sqs.meta.endpoint_url, queue_arn)
            settings = read_queue_settings(self.sqs, url)
            declared = self.settings.declared_max_receive_count
            if declared is not None and declared != settings.max_receive_count:
                log.error(
                    "MAX_RECEIVE_COUNT disagrees with the queue's RedrivePolicy; the queue's is used",
                    extra={"declared": declared, "queue": settings.max_receive_count, "queue_arn": queue_arn},
                )
            if settings.dlq_url is None:
                log.error(
                    "the source queue has no redrive policy: permanent failures cannot be dead-lettered "
                    "and are retried instead",
                    extra={"queue_arn": queue_arn},
                )
            self._queues[queue_arn] = (url, settings)
        return self._queues[queue_arn]


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def cold_start() -> Runtime:
    """The runtime of this execution environment, built on the first invocation."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            import boto3

            if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
                from worker.logs import configure_logging

                configure_logging()  # JSON lines on stdout: CloudWatch Logs keeps them as they are
            settings = HandlerSettings.from_environ()
            warm_up()  # the built-in indexer's client, in the init phase rather than a record's time
            _runtime = Runtime(
                settings,
                boto3.session.Session().client("sqs", config=boto_config()),
                load_processor(settings.file_processor),
            )
        return _runtime


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """The function's handler: an SQS event in, the partial batch response out."""
    return handle_batch(event, context, cold_start())


@dataclass
class _Batch:
    """One invocation's state: what is listed as failed, whether the worker cannot work."""

    runtime: Runtime
    metrics: metrics.EmbeddedMetrics
    invocation_end: float
    reserve_seconds: float
    failures: list[str] = dataclasses.field(default_factory=list)
    fatal: str | None = None

    def remaining_seconds(self) -> float:
        return self.invocation_end - time.monotonic()


def handle_batch(event: dict[str, Any], context: Any, runtime: Runtime) -> dict[str, list[dict[str, str]]]:
    records = _sqs_records(event)
    if not records:
        return _response([])
    remaining = context.get_remaining_time_in_millis() / 1000
    invocation_end = time.monotonic() + remaining
    queue_arn = next((r.get("eventSourceARN") for r in records if r.get("eventSourceARN")), "")
    queue_name = queue_arn.rsplit(":", 1)[-1]
    sink = metrics.EmbeddedMetrics(
        runtime.settings.metric_namespace, {contract.QUEUE_DIMENSION: queue_name}, runtime.write_metrics
    )
    batch = _Batch(runtime, sink, invocation_end, min(RESERVE_SECONDS, RESERVE_FRACTION * remaining))
    try:
        queue_url, queue = runtime.queue(queue_arn)
    except ConfigurationError as error:
        log.error("cannot read the source queue; every record is retried", extra={"reason": str(error)})
        return _response([str(r.get("messageId")) for r in records])
    unstarted: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for record in records:
            message_id = str(record.get("messageId"))
            if message_id in seen:
                # The same message twice in one batch (at-least-once delivery): the response can name
                # it only once, by its id, so the first record's outcome is the message's; handling the
                # second too would process it twice and could dead-letter it twice.
                log.warning(
                    "the same message twice in one batch: handled once", extra={"message_id": message_id}
                )
                continue
            seen.add(message_id)
            if batch.fatal:
                batch.failures.append(message_id)
            elif batch.remaining_seconds() <= batch.reserve_seconds:
                batch.failures.append(message_id)
                unstarted.append(record)
            else:
                try:
                    _handle_record(record, batch, queue_url, queue)
                except Exception:  # noqa: BLE001 - a bug here must not fail the batch's other records
                    log.exception(
                        "unexpected error while handling a record", extra={"message_id": message_id}
                    )
                    batch.failures.append(message_id)
        if unstarted:
            log.warning(
                "time running short: records not started, handed back",
                extra={"message_ids": [r.get("messageId") for r in unstarted]},
            )
            _release_now(runtime.sqs, queue_url, unstarted, sink)
    finally:
        sink.flush()
    return _response(batch.failures)


def _sqs_records(event: Any) -> list[dict[str, Any]]:
    """The event's SQS records; ValueError for an event that is not from an SQS event source mapping
    (an S3, SNS or API Gateway trigger wired to the function by mistake). No SQS message is at stake,
    so failing the invocation is right: Lambda counts the error (the Errors alarm fires) and an
    asynchronous invoker retries, where a partial batch response would be read by no one and the
    event would be lost."""
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" and r.get("messageId") for r in records
    ):
        return records
    if isinstance(records, list):
        sources = sorted(
            {str(r.get("eventSource")) if isinstance(r, dict) else type(r).__name__ for r in records}
        )
        shape = f"records from {', '.join(sources)}"
    else:
        shape = f"keys {sorted(event)[:10]}" if isinstance(event, dict) else type(event).__name__
    raise ValueError(
        f"not an SQS event ({shape}): worker.lambda_handler.handler takes only an SQS event source "
        "mapping's events (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html); remove the other trigger"
    )


def _response(failures: list[str]) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _handle_record(record: dict[str, Any], batch: _Batch, queue_url: str, queue: QueueSettings) -> None:
    runtime = batch.runtime
    message_id = str(record.get("messageId"))
    receive_count = _receive_count(record)
    started = time.monotonic()
    deadline = batch.invocation_end - batch.reserve_seconds
    if runtime.settings.processing_timeout_seconds:
        deadline = min(deadline, started + runtime.settings.processing_timeout_seconds)

    def process(event: S3ObjectEvent) -> Verdict:
        if not runtime.ledger.claim(event.identity, wait_seconds=0):
            return Verdict(Outcome.DUPLICATE)
        verdict = call_processor(runtime.processor, dataclasses.replace(event, deadline=deadline))
        runtime.ledger.finish(event.identity, succeeded=verdict.action is Action.DELETE)
        return verdict

    verdict, keys = decide(record.get("body"), process)
    duration = time.monotonic() - started
    for name in verdict.outcome.counted_as:
        batch.metrics.count(name)
    action = verdict.action
    if action is Action.DELETE:
        if verdict.outcome is Outcome.PROCESSED:
            batch.metrics.duration(duration * 1000)
    elif verdict.outcome is Outcome.WORKER_FATAL:
        batch.fatal = verdict.reason
        batch.failures.append(message_id)
        log.error(
            "the worker cannot work: this and every unfinished record listed as failed, none dead-lettered",
            extra={"message_id": message_id, "reason": verdict.reason, "error_type": verdict.error_type},
        )
    else:
        todo = plan(verdict, receive_count, queue, runtime.settings.retry_backoff_base_seconds)
        verdict, action = todo.verdict, todo.action
        if action is Action.RELEASE:
            batch.failures.append(message_id)
            _release(runtime.sqs, queue_url, record, todo.release_seconds, batch.metrics)
        elif not _dead_letter(runtime.sqs, queue_url, queue, record, verdict, receive_count, batch.metrics):
            action = Action.RELEASE
            batch.failures.append(message_id)
    log.log(
        logging.INFO if action is Action.DELETE else logging.WARNING,
        "message handled",
        extra={
            **handled_fields(message_id, keys, verdict, action, receive_count),
            "duration_ms": round(duration * 1000, 1),
        },
    )


def _receive_count(record: dict[str, Any]) -> int:
    """ApproximateReceiveCount (a string in the event, with-sqs.html); 1 when absent or unreadable, so
    the record is processed and, failing, listed: SQS's own count still redrives it at maxReceiveCount."""
    raw = (record.get("attributes") or {}).get("ApproximateReceiveCount")
    try:
        return max(1, int(raw))
    except (TypeError, ValueError):
        if raw is not None:
            log.warning(
                "unreadable ApproximateReceiveCount, taken as 1",
                extra={"message_id": record.get("messageId"), "value": repr(raw)[:100]},
            )
        return 1


def _dead_letter(
    sqs: Any,
    queue_url: str,
    queue: QueueSettings,
    record: dict[str, Any],
    verdict: Verdict,
    receive_count: int,
    sink: metrics.EmbeddedMetrics,
) -> bool:
    """Copy the message to the DLQ with the reason; False (so it is listed as failed) if that fails."""
    message_id = str(record.get("messageId"))
    if not queue.dlq_url:
        log.error(
            "no DLQ: a message that should be dead-lettered is retried", extra={"message_id": message_id}
        )
        return False
    fifo = fifo_send_arguments(
        queue.dlq_url, message_id, (record.get("attributes") or {}).get("MessageGroupId")
    )
    try:
        sqs.send_message(
            QueueUrl=queue.dlq_url,
            MessageBody=record.get("body") or "",
            MessageAttributes=dead_letter_attributes(
                verdict, message_id, receive_count, queue_url.rsplit("/", 1)[-1]
            ),
            **fifo,
        )
    except Exception as error:  # noqa: BLE001 - listed as failed: SQS hands it out again, never lost
        log.error(
            "copy to the DLQ failed; the record is listed as failed instead",
            extra={"message_id": message_id, "error": f"{type(error).__name__}: {error}"},
        )
        return False
    sink.count(metrics.DEAD_LETTERED)
    # Deleted now, as the EC2 worker deletes after the copy, not left to the mapping: if a later record
    # of the batch runs past the function timeout the whole batch comes back, and this message would be
    # dead-lettered a second time. If this delete fails, the mapping still deletes it after the response.
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record.get("receiptHandle"))
    except Exception as error:  # noqa: BLE001 - not listed either way: the mapping deletes it
        log.warning(
            "delete after the DLQ copy failed; the mapping deletes it after the response",
            extra={"message_id": message_id, "error": f"{type(error).__name__}: {error}"},
        )
    return True


def _release(
    sqs: Any, queue_url: str, record: dict[str, Any], seconds: int, sink: metrics.EmbeddedMetrics
) -> None:
    """Visible again after the backoff (best effort: else after the queue's visibility timeout)."""
    try:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record.get("receiptHandle"), VisibilityTimeout=seconds
        )
        sink.count(metrics.RELEASED)
    except Exception as error:  # noqa: BLE001 - it comes back after its visibility timeout anyway
        log.warning("release failed: %s", error, extra={"message_id": record.get("messageId")})


def _release_now(
    sqs: Any, queue_url: str, records: list[dict[str, Any]], sink: metrics.EmbeddedMetrics
) -> None:
    for start in range(0, len(records), SQS_BATCH_SIZE):
        chunk = records[start : start + SQS_BATCH_SIZE]
        try:
            response = sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": r.get("receiptHandle"), "VisibilityTimeout": 0}
                    for n, r in enumerate(chunk)
                ],
            )
            sink.count(metrics.RELEASED, len(response.get("Successful", [])))
        except Exception as error:  # noqa: BLE001 - they come back after the visibility timeout anyway
            log.warning("release of unstarted records failed: %s", error)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # In Lambda the module is imported in the init phase, which the function timeout does not count:
    # build the clients and load the processor there, as the EC2 worker's child processes do at start.
    cold_start()
