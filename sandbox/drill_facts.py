"""What moto holds after a drill run: queues, index document versions, dead letters, CloudWatch sums.

The drill judges the fix from these facts, not from what the workers say about themselves. Reading
leaves the queues as found (their messages visible again), so a later step can read them too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from sandbox.drill_files import GONE, DrillFile
from sandbox.drill_verdicts import DeadLetter, DrillFacts
from sandbox.local_aws import LocalPipeline, queue_depth
from worker import contract

WORKER_METRICS = (*contract.SUCCESS_METRICS, contract.VISIBILITY_LOST)
"""Read from CloudWatch after a run; MessageVisibilityLost shows a starved worker (docs/monitoring.md)."""
POLL_SECONDS = 0.25
READ_VISIBILITY_SECONDS = 600
"""Messages read to be counted stay hidden this long, so each is read once (then made visible again)."""
EXTRA_RECEIVES = 20
"""Receives allowed beyond one per ten waiting messages (messages arriving late, sampling)."""


def collect(
    files: Sequence[DrillFile],
    pipeline: LocalPipeline,
    redrive: dict[str, Any] | None,
    s3: Any,
    sqs: Any,
    cloudwatch: Any,
    started_at: datetime,
    worker_lines: Sequence[dict[str, Any]],
) -> DrillFacts:
    """Read the facts of a run whose workers have stopped; `redrive` is the work queue's policy or None."""
    index_writes, lags = _index_documents(files, pipeline, s3)
    visible, in_flight = queue_depth(sqs, pipeline.queue_url)
    # Let messages still hidden by a (stopped) worker become visible, so every one left is counted;
    # probe before reading the DLQ: a receive may itself make SQS redrive a message at maxReceiveCount.
    if in_flight:
        visibility = int(
            sqs.get_queue_attributes(QueueUrl=pipeline.queue_url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"
            ]["VisibilityTimeout"]
        )
        deadline = time.monotonic() + visibility + 2
        while queue_depth(sqs, pipeline.queue_url)[1] and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
    left_over_receives = _receives_of_left_over_messages(sqs, pipeline.queue_url)
    dead_lettered = read_dead_letters(sqs, pipeline.dlq_url) if redrive else []
    handled = [line for line in worker_lines if line.get("message") == "message handled"]
    stopped = [line for line in worker_lines if line.get("message") == "stopped"]
    return DrillFacts(
        queue_left={"visible": visible, "in_flight": in_flight},
        max_receives_of_messages_left=max(left_over_receives, default=0),
        index_writes=index_writes,
        dead_lettered=dead_lettered,
        metrics={name: metric_sum(cloudwatch, pipeline, name, started_at) for name in WORKER_METRICS},
        max_indexing_lag_seconds=round(max(lags), 2) if lags else None,
        messages_handled=len(handled),
        messages_deleted=sum(1 for line in handled if line.get("action") in ("delete", "dead_letter")),
        max_receive_count_seen=max((int(line.get("receive_count", 0)) for line in handled), default=0),
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
        sqs_requests=sum(int(line.get("sqs_requests", 0)) for line in stopped) or None,
    )


def _index_documents(
    files: Sequence[DrillFile], pipeline: LocalPipeline, s3: Any
) -> tuple[dict[str, int], list[float]]:
    """Versions of each file's index document, and the seconds from upload to its first version."""
    index_writes: dict[str, int] = {}
    lags: list[float] = []
    for drill_file in files:
        document_key = f"{pipeline.index_prefix}{pipeline.upload_bucket}/{drill_file.key}.json"
        versions = s3.list_object_versions(Bucket=pipeline.index_bucket, Prefix=document_key).get(
            "Versions", []
        )
        versions = [v for v in versions if v["Key"] == document_key]
        index_writes[drill_file.key] = len(versions)
        if versions and drill_file.expected != GONE:
            source = s3.head_object(Bucket=pipeline.upload_bucket, Key=drill_file.key)["LastModified"]
            first_write = min(v["LastModified"] for v in versions)
            lags.append((first_write - source).total_seconds())
    return index_writes, lags


def _receives_of_left_over_messages(sqs: Any, queue_url: str) -> list[int]:
    """How often the workers received each message still visible in the queue (SQS's own count)."""
    messages = read_all(sqs, queue_url, AttributeNames=["ApproximateReceiveCount"])
    return [int(m["Attributes"]["ApproximateReceiveCount"]) - 1 for m in messages]  # minus our receive


def read_dead_letters(sqs: Any, dlq_url: str) -> list[DeadLetter]:
    """Every message in the DLQ with its key and reason; afterwards they are visible again."""
    return [_dead_letter(m) for m in read_all(sqs, dlq_url, MessageAttributeNames=["All"])]


def read_all(sqs: Any, queue_url: str, **receive: Any) -> list[dict[str, Any]]:
    """Each visible message of a queue once (as first received), then all visible again.

    Messages are told apart by MessageId and reading stops once as many were seen as the queue
    held, or after a bounded number of receives: on a slow endpoint the first messages may become
    visible again before the last are read, and a loop waiting for an empty receive would not end.
    """
    waiting = queue_depth(sqs, queue_url)[0]
    first: dict[str, dict[str, Any]] = {}
    handles: dict[str, str] = {}
    for _ in range(waiting // 10 + EXTRA_RECEIVES):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=READ_VISIBILITY_SECONDS,
            **receive,
        ).get("Messages", [])
        for message in messages:
            first.setdefault(message["MessageId"], message)
            handles[message["MessageId"]] = message["ReceiptHandle"]
        if not messages or (waiting and len(first) >= waiting):
            break
    receipts = list(handles.values())
    for start in range(0, len(receipts), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(receipts[start : start + 10])
            ],
        )
    return list(first.values())


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
    try:
        key = unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])
    except (KeyError, IndexError, TypeError, ValueError):
        key = "<not an S3 event>"
    redriven = "Reason" not in attributes  # the worker copies with a Reason; SQS's redrive does not
    reason = "redriven by SQS after maxReceiveCount receives" if redriven else attributes["Reason"]
    return DeadLetter(key=key, reason=reason, redriven=redriven)


def metric_sum(cloudwatch: Any, pipeline: LocalPipeline, name: str, started_at: datetime) -> float | None:
    """The sum of a worker metric's datapoints since the run started; None when there are none."""
    queue_name = pipeline.queue_url.rsplit("/", 1)[-1]
    datapoints = cloudwatch.get_metric_statistics(
        Namespace=pipeline.metric_namespace,
        MetricName=name,
        Dimensions=[{"Name": contract.QUEUE_DIMENSION, "Value": queue_name}],
        StartTime=started_at - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints) if datapoints else None
