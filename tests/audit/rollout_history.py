"""25 hours of CloudWatch history written the way AWS and the worker write it, for `--since` to judge.

AWS/SQS publishes each queue's metrics every minute by QueueName (gauges as one sample a minute, counts
as the minute's total; ApproximateAgeOfOldestMessage only while a message waits); the worker publishes
its counters by QueueName at each flush, only those it counted; the Auto Scaling group its enabled group
metrics every minute by AutoScalingGroupName. moto 5.2 publishes none of these itself, so a scenario
writes them into the same namespaces, and moto answers GetMetricData over them.

The datums go straight into moto's CloudWatch backend (the server runs in the test process): the same
dicts PutMetricData would hand it, without 18,000 datums' trip through botocore and moto's parser
(about 1.5 s of CPU per history). `through_api=True` sends them with PutMetricData instead;
test_rollout checks that both read back the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from worker import contract

HISTORY = timedelta(hours=25)
QUEUE, DLQ = "file-processing-queue-production", "file-processing-dlq-production"
GROUP = "cis-file-processor-production"
PUT_LIMIT = 1000


@dataclass
class Minute:
    """What one minute looked like, at `minutes` since the rollout (negative: before it)."""

    visible: float = 0
    in_flight: float = 0
    dlq_visible: float = 0
    oldest_age: float = 0
    sent: float = 0
    received: float = 0
    deleted: float = 0
    processed: float = 0
    failed: float = 0
    released: float = 0
    delete_failed: float = 0
    crashed: float | None = None
    in_service: float = 2
    desired: float = 2


Scenario = Callable[[float], Minute]


def healthy(minutes: float) -> Minute:
    """A fixed rollout: 1,200 waiting at the rollout drain in about 1.5 h while 600 files/hour keep
    arriving; 99.5 % of attempts succeed (the rest are released and succeed later); the 3 dead letters
    left by the incident are reviewed and cleared 20 h in."""
    arriving = 10.0
    dlq = 3.0 if minutes < 20 * 60 else 0.0
    if minutes < 0:  # the incident: nothing deleted, the backlog grows
        return Minute(
            visible=1_200,
            in_flight=300,
            dlq_visible=dlq,
            oldest_age=5_400,
            sent=arriving,
            received=20,
            deleted=0,
            processed=20,
            delete_failed=20,
        )
    backlog = max(0.0, 1_200 - 13 * minutes)
    processed = arriving + 13 if backlog > 0 else arriving
    failed = round(processed * 0.005 / 0.995, 3)
    crashed = 0.0 if 6 <= minutes < 8 else None  # each new instance's worker starts once
    return Minute(
        visible=backlog if backlog > 0 else (minutes % 3),
        in_flight=8 if backlog > 0 else 2,
        dlq_visible=dlq,
        oldest_age=(backlog / 23 * 60 + 30) if backlog > 0 else 20,
        sent=arriving,
        received=processed + failed,
        deleted=processed,
        processed=processed,
        failed=failed,
        released=failed,
        crashed=crashed,
    )


def incident_loop(minutes: float) -> Minute:
    """The incident again: the worker processes and never deletes, every message comes back after its
    visibility timeout; depth stays flat, deletes fail."""
    del minutes
    return Minute(
        visible=1_200,
        in_flight=300,
        oldest_age=5_400,
        sent=10,
        received=20,
        deleted=0,
        processed=20,
        delete_failed=20,
        crashed=0,
    )


def write_history(
    cloudwatch: Any,
    scenario: Scenario,
    rollout: datetime,
    now: datetime,
    worker_namespace: str,
    history: timedelta = HISTORY,
    through_api: bool = False,
) -> int:
    """Write every minute of the last `history`; returns the datapoints written."""
    sqs: list[dict[str, Any]] = []
    worker: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    for back in range(int(history.total_seconds() // 60), -1, -1):
        at = now - timedelta(minutes=back)
        minute = scenario((at - rollout).total_seconds() / 60)
        queue, dead = _dimension("QueueName", QUEUE), _dimension("QueueName", DLQ)
        sqs += [
            _datum("ApproximateNumberOfMessagesVisible", queue, at, minute.visible),
            _datum("ApproximateNumberOfMessagesNotVisible", queue, at, minute.in_flight),
            _datum("NumberOfMessagesSent", queue, at, minute.sent),
            _datum("NumberOfMessagesReceived", queue, at, minute.received),
            _datum("NumberOfMessagesDeleted", queue, at, minute.deleted),
            _datum("ApproximateNumberOfMessagesVisible", dead, at, minute.dlq_visible),
        ]
        if minute.visible > 0:
            sqs.append(_datum("ApproximateAgeOfOldestMessage", queue, at, minute.oldest_age, "Seconds"))
        counted = {
            contract.PROCESSED: minute.processed,
            contract.FAILED: minute.failed,
            contract.RELEASED: minute.released,
            contract.DELETE_FAILED: minute.delete_failed,
        }
        worker += [_datum(name, queue, at, value) for name, value in counted.items() if value]
        if minute.crashed is not None:
            worker.append(_datum(contract.WORKER_CRASHED, queue, at, minute.crashed))
        group = _dimension("AutoScalingGroupName", GROUP)
        groups += [
            _datum("GroupInServiceInstances", group, at, minute.in_service, "None"),
            _datum("GroupDesiredCapacity", group, at, minute.desired, "None"),
        ]
    backend = get_backend("cloudwatch")[DEFAULT_ACCOUNT_ID][cloudwatch.meta.region_name]
    for namespace, data in (("AWS/SQS", sqs), (worker_namespace, worker), ("AWS/AutoScaling", groups)):
        for first in range(0, len(data), PUT_LIMIT):
            if through_api:
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + PUT_LIMIT])
            else:  # as moto's request parser hands them over: naive UTC timestamps (moto/core/parse.py)
                backend.put_metric_data(
                    namespace, [_as_parsed(datum) for datum in data[first : first + PUT_LIMIT]]
                )
    return len(sqs) + len(worker) + len(groups)


def _dimension(name: str, value: str) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value}]


def _as_parsed(datum: dict[str, Any]) -> dict[str, Any]:
    return {**datum, "Timestamp": datum["Timestamp"].astimezone(UTC).replace(tzinfo=None)}


def _datum(
    name: str, dimensions: list[dict[str, str]], at: datetime, value: float, unit: str = "Count"
) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": at,
        "Value": float(value),
        "Unit": unit,
    }
