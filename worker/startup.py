"""Start-up checks: the worker refuses to run on settings that would lose, loop or duplicate work.

Each failure is a `ConfigurationError` naming what is wrong and the fix; `python -m worker` prints it
as one JSON line and exits 2 (docs/worker.md). An AWS call that still fails after botocore's retries
with an error botocore itself calls transient or throttling (5xx, `ThrottlingException`, a timeout, no
connection) is `ServiceUnavailable` instead: exit 75, which systemd restarts, because a restart can fix
an outage but not a setting. Checked, in order:
- the queue exists (GetQueueAttributes) and has a redrive policy (or ALLOW_NO_REDRIVE_POLICY=true,
  with a loud warning): its `deadLetterTargetArn` is the one DLQ, its `maxReceiveCount` the last
  receive, its `VisibilityTimeout` what the heartbeat keeps up;
- DLQ_URL, if set, names that same queue (a second copy that disagrees is refused), and the DLQ exists;
- the index bucket exists and is writable (one small PutObject under INDEX_PREFIX: the worker's role
  may write there but not delete, so the probe object is overwritten at every start, not removed);
- the heartbeat interval is shorter than the visibility timeout (else messages reappear mid-job);
- the processing timeout is within the 12 hours SQS lets a received message stay invisible.

Queue attributes: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html
Redrive policy: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from worker.config import SQS_MAX_VISIBILITY_SECONDS, WorkerConfig
from worker.errors import ConfigurationError, ServiceUnavailable, error_code

log = logging.getLogger("worker.startup")

MISSING_QUEUE_CODES = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "403", "Forbidden", "AllAccessDisabled"}
PROBE_KEY = ".worker-start-check"
MAX_INDEX_PREFIX_BYTES = 512


@dataclass(frozen=True)
class QueueSettings:
    """Read from the queue's own attributes at start-up (GetQueueAttributes), never configured twice."""

    visibility_timeout: int
    max_receive_count: int | None
    dlq_url: str | None = None
    dlq_arn: str | None = None


def unavailable(error: BaseException) -> bool:
    """True when botocore's standard retry mode would retry `error` (transient: 500/502/503/504,
    `RequestTimeout`, connection errors; throttled: `Throttling*`, `RequestLimitExceeded`, HTTP 429):
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"""
    from botocore.retries import standard

    response = getattr(error, "response", None)
    parsed = response if isinstance(response, dict) else None
    status = (parsed or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    context = standard.RetryContext(
        attempt_number=1,
        parsed_response=parsed,
        http_response=_Status(status) if status else None,
        caught_exception=None if parsed is not None else error,
    )
    checkers = (
        standard.TransientRetryableChecker(),
        standard.ThrottledRetryableChecker(),
        standard.ThrottlingStatusCodeChecker(),
    )
    return any(checker.is_retryable(context) for checker in checkers)


@dataclass(frozen=True)
class _Status:
    status_code: int


def refuse(error: BaseException, message: str) -> Exception:
    """The exception a start-up check raises for an AWS error it has no better words for."""
    detail = f"{message} ({type(error).__name__}: {error})"
    if unavailable(error):
        return ServiceUnavailable(
            f"{detail}; AWS did not answer, so the worker exits 75 and systemd restarts it"
        )
    return ConfigurationError(detail)


def queue_url_from_arn(queue_url: str, arn: str) -> str:
    """The URL of the queue `arn` names, on the same endpoint as `queue_url` (a DLQ lives in the same
    account and region as its source queue)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise ConfigurationError(f"the queue's RedrivePolicy names {arn!r}, which is not an SQS queue ARN")
    account, name = parts[4], parts[5]
    split = urlsplit(queue_url)
    return f"{split.scheme}://{split.netloc}/{account}/{name}"


def same_queue(url_a: str, url_b: str) -> bool:
    """Equal account and name (the last two path parts); hosts differ between legacy and current URLs."""
    return urlsplit(url_a).path.strip("/").split("/")[-2:] == urlsplit(url_b).path.strip("/").split("/")[-2:]


def read_queue_settings(sqs: Any, queue_url: str) -> QueueSettings:
    """The queue's own visibility timeout, maxReceiveCount and DLQ (docs/worker.md: no second copy)."""
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
        )["Attributes"]
    except Exception as error:  # noqa: BLE001 - every way of failing becomes one clear line
        code = error_code(error)
        if code in MISSING_QUEUE_CODES:
            raise ConfigurationError(f"QUEUE_URL={queue_url}: the queue does not exist") from None
        raise refuse(error, f"QUEUE_URL={queue_url}: cannot read the queue's attributes") from None
    try:
        redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
        max_receive = redrive.get("maxReceiveCount")
        dlq_arn = redrive.get("deadLetterTargetArn")
        visibility = int(attributes["VisibilityTimeout"])
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ConfigurationError(f"QUEUE_URL={queue_url}: unreadable queue attributes ({error!r})") from None
    return QueueSettings(
        visibility_timeout=visibility,
        max_receive_count=int(max_receive) if max_receive is not None else None,
        dlq_url=queue_url_from_arn(queue_url, dlq_arn) if dlq_arn else None,
        dlq_arn=dlq_arn,
    )


def check_dead_letter_queue(sqs: Any, config: WorkerConfig, settings: QueueSettings) -> None:
    if settings.max_receive_count is None or settings.dlq_url is None:
        if not config.allow_no_redrive:
            raise ConfigurationError(
                f"QUEUE_URL={config.queue_url}: the queue has no redrive policy, so a file that always fails "
                "is retried forever; give the queue a DLQ (RedrivePolicy), or set ALLOW_NO_REDRIVE_POLICY=true "
                "to run without one"
            )
        log.warning(
            "RUNNING WITHOUT A DEAD-LETTER QUEUE (ALLOW_NO_REDRIVE_POLICY=true): failing files are retried "
            "forever and permanent failures are only logged and released",
            extra={"queue_url": config.queue_url},
        )
        if config.dlq_url:
            raise ConfigurationError(
                f"DLQ_URL={config.dlq_url} is set but the queue has no redrive policy: the DLQ is the queue's "
                "redrive target, not a second setting"
            )
        return
    if config.dlq_url and not same_queue(config.dlq_url, settings.dlq_url):
        raise ConfigurationError(
            f"DLQ_URL={config.dlq_url} is not the queue's redrive target {settings.dlq_arn}: dead letters would "
            "bypass the DLQ that SQS and its alarm use; unset DLQ_URL (the worker reads the redrive policy)"
        )
    try:
        sqs.get_queue_attributes(QueueUrl=settings.dlq_url, AttributeNames=["QueueArn"])
    except Exception as error:  # noqa: BLE001
        code = error_code(error)
        if code in MISSING_QUEUE_CODES:
            raise ConfigurationError(
                f"the queue's redrive target {settings.dlq_arn} does not exist: create it or fix the "
                "RedrivePolicy (dead letters would be lost)"
            ) from None
        if code in DENIED_CODES:
            log.warning(
                "cannot verify that the DLQ exists (the role lacks sqs:GetQueueAttributes on it)",
                extra={"dlq_arn": settings.dlq_arn},
            )
            return
        raise refuse(error, f"cannot check the DLQ {settings.dlq_arn}") from None


def check_index_bucket(s3: Any, config: WorkerConfig) -> None:
    if len(config.index_prefix.encode()) > MAX_INDEX_PREFIX_BYTES:
        raise ConfigurationError(
            f"INDEX_PREFIX is {len(config.index_prefix.encode())} bytes: keep it under {MAX_INDEX_PREFIX_BYTES} "
            "(S3 keys are at most 1,024 bytes)"
        )
    key = f"{config.index_prefix}{PROBE_KEY}"
    try:
        s3.put_object(
            Bucket=config.index_bucket,
            Key=key,
            Body=json.dumps({"host": socket.gethostname(), "check": "worker start-up"}).encode(),
            ContentType="application/json",
        )
    except Exception as error:  # noqa: BLE001
        code = error_code(error)
        if code == "NoSuchBucket":
            raise ConfigurationError(
                f"INDEX_BUCKET={config.index_bucket}: the bucket does not exist"
            ) from None
        if code in DENIED_CODES:
            raise ConfigurationError(
                f"INDEX_BUCKET={config.index_bucket}: the worker may not write s3://{config.index_bucket}/{key} "
                f"({code}): either the role lacks s3:PutObject on the index prefix or the bucket policy "
                "denies the request (a TLS-only policy denies every plain-HTTP endpoint; see "
                "docs/local-walkthrough.md)"
            ) from None
        raise refuse(error, f"INDEX_BUCKET={config.index_bucket}: cannot write a test object") from None


def heartbeat_interval(config: WorkerConfig, settings: QueueSettings) -> float:
    """The heartbeat interval; ConfigurationError unless it is shorter than the visibility timeout."""
    interval = config.heartbeat_seconds or max(1.0, settings.visibility_timeout / 3)
    if interval >= settings.visibility_timeout:
        source = "HEARTBEAT_SECONDS" if config.heartbeat_seconds else "the default heartbeat (1 s)"
        raise ConfigurationError(
            f"{source}={interval:g} is not shorter than the queue's visibility timeout "
            f"({settings.visibility_timeout} s): messages would reappear while they are processed; "
            "lower HEARTBEAT_SECONDS or raise the queue's VisibilityTimeout"
        )
    return interval


def check_timeouts(config: WorkerConfig) -> None:
    if not 0 < config.processing_timeout_seconds <= SQS_MAX_VISIBILITY_SECONDS:
        raise ConfigurationError(
            f"PROCESSING_TIMEOUT_SECONDS={config.processing_timeout_seconds:g} is outside 0..{SQS_MAX_VISIBILITY_SECONDS}: "
            "SQS keeps a received message invisible for at most 12 hours"
        )


def run_checks(config: WorkerConfig, sqs: Any, s3: Any) -> tuple[QueueSettings, float]:
    """Every start-up check; returns the queue's settings and the heartbeat interval."""
    check_timeouts(config)
    settings = read_queue_settings(sqs, config.queue_url)
    check_dead_letter_queue(sqs, config, settings)
    interval = heartbeat_interval(config, settings)
    check_index_bucket(s3, config)
    if settings.visibility_timeout < config.processing_timeout_seconds:
        log.warning(
            "the queue's visibility timeout is shorter than PROCESSING_TIMEOUT_SECONDS; the heartbeat keeps "
            "messages invisible, but a worker that dies mid-job hands its message back only after the "
            "visibility timeout (policy visibility-covers-processing)",
            extra={"visibility_timeout": settings.visibility_timeout},
        )
    return settings, interval
