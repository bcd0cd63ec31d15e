"""CloudWatch history since a rollout, read with GetMetricData in 5-minute periods (one call for every
series, paged with NextToken), so each window is judged from what AWS and the worker published.

Statistics follow what each metric means: SQS's gauges (visible, in flight, oldest age) are sampled
every minute and read as the period's Maximum; counts (sent, received, deleted, the worker's counters,
Lambda's Errors and Throttles) as the period's Sum
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html,
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). The Auto Scaling group's
GroupInServiceInstances / GroupDesiredCapacity exist only with group metrics enabled (the stack enables
them, components/worker_fleet.py), by AutoScalingGroupName
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html).
Start and end are aligned to the period, as the GetMetricData reference advises
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.rollout_criteria import PERIOD
from worker import contract

SQS = "AWS/SQS"
AUTOSCALING = "AWS/AutoScaling"
LAMBDA = "AWS/Lambda"
MAX_QUERIES_PER_CALL = 500
"""GetMetricData takes at most 500 queries per call."""
SPAN_PER_CALL = timedelta(hours=2)
"""One call covers at most two hours (24 periods a series), so no call nears the audit's per-call
timeout on an endpoint that scans its whole store for every period (moto server: 25 hours of
per-minute history in one call took 24 s here, in 2-hour spans 2 s). GetMetricData is billed per
metric requested: 13 spans of 15 series cost about 0.2 cents per audit."""


@dataclass(frozen=True)
class Series:
    """One metric's history as published: (period start, value) pairs, oldest first; empty = no data."""

    label: str
    points: tuple[tuple[datetime, float], ...] = ()

    def between(self, start: datetime, end: datetime) -> list[float]:
        """Values of the periods that start in [start, end)."""
        return [value for at, value in self.points if start <= at < end]

    def at(self, moment: datetime, lookback: timedelta = 3 * PERIOD) -> float | None:
        """The latest value of a period that started at or before `moment`, no older than `lookback`."""
        found = [value for at, value in self.points if moment - lookback <= at <= moment]
        return found[-1] if found else None


@dataclass
class History:
    series: dict[str, Series] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None

    def __getitem__(self, key: str) -> Series:
        return self.series.get(key, Series(key))


@dataclass(frozen=True)
class Query:
    key: str
    namespace: str
    metric: str
    dimension: str
    value: str
    stat: str


def history_queries(
    work_queue: str,
    dead_letter_queue: str | None,
    worker_namespace: str,
    group_name: str | None,
    function_name: str | None,
) -> list[Query]:
    """Every series the windows are judged on, keyed `<namespace short>:<metric>[:dlq]`."""
    queries = [
        Query(
            "visible",
            SQS,
            "ApproximateNumberOfMessagesVisible",
            contract.QUEUE_DIMENSION,
            work_queue,
            "Maximum",
        ),
        Query(
            "in_flight",
            SQS,
            "ApproximateNumberOfMessagesNotVisible",
            contract.QUEUE_DIMENSION,
            work_queue,
            "Maximum",
        ),
        Query(
            "oldest_age",
            SQS,
            "ApproximateAgeOfOldestMessage",
            contract.QUEUE_DIMENSION,
            work_queue,
            "Maximum",
        ),
        Query("sent", SQS, "NumberOfMessagesSent", contract.QUEUE_DIMENSION, work_queue, "Sum"),
        Query("received", SQS, "NumberOfMessagesReceived", contract.QUEUE_DIMENSION, work_queue, "Sum"),
        Query("deleted", SQS, "NumberOfMessagesDeleted", contract.QUEUE_DIMENSION, work_queue, "Sum"),
    ]
    if dead_letter_queue:
        queries.append(
            Query(
                "dlq_visible",
                SQS,
                "ApproximateNumberOfMessagesVisible",
                contract.QUEUE_DIMENSION,
                dead_letter_queue,
                "Maximum",
            )
        )
    for metric in (
        contract.PROCESSED,
        contract.FAILED,
        contract.DELETE_FAILED,
        contract.DEAD_LETTERED,
        contract.RELEASED,
        contract.WORKER_CRASHED,
    ):
        queries.append(Query(metric, worker_namespace, metric, contract.QUEUE_DIMENSION, work_queue, "Sum"))
    if group_name:
        queries.append(
            Query(
                "in_service",
                AUTOSCALING,
                "GroupInServiceInstances",
                "AutoScalingGroupName",
                group_name,
                "Minimum",
            )
        )
        queries.append(
            Query(
                "desired", AUTOSCALING, "GroupDesiredCapacity", "AutoScalingGroupName", group_name, "Maximum"
            )
        )
    if function_name:
        queries.append(Query("lambda_errors", LAMBDA, "Errors", "FunctionName", function_name, "Sum"))
        queries.append(Query("lambda_throttles", LAMBDA, "Throttles", "FunctionName", function_name, "Sum"))
    return queries


def align(moment: datetime) -> datetime:
    """`moment` rounded down to the start of its 5-minute period (UTC)."""
    moment = moment.astimezone(UTC)
    seconds = int(PERIOD.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, UTC)


def read_history(cloudwatch: Any, queries: list[Query], start: datetime, end: datetime) -> History:
    """Every query's 5-minute series over [start, end), aligned to the period, oldest first."""
    start, end = align(start), align(end) + PERIOD
    ids = {f"q{number}": query for number, query in enumerate(queries)}
    points: dict[str, list[tuple[datetime, float]]] = {key: [] for key in ids}
    names = list(ids)
    span_start = start
    while span_start < end:
        span_end = min(end, span_start + SPAN_PER_CALL)
        for first in range(0, len(names), MAX_QUERIES_PER_CALL):
            batch = [_metric_stat(name, ids[name]) for name in names[first : first + MAX_QUERIES_PER_CALL]]
            for name, at, value in _get_metric_data(cloudwatch, batch, span_start, span_end):
                points[name].append((at, value))
        span_start = span_end
    return History(
        {ids[name].key: Series(ids[name].key, tuple(sorted(points[name]))) for name in names}, start, end
    )


def _metric_stat(name: str, query: Query) -> dict[str, Any]:
    return {
        "Id": name,
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric,
                "Dimensions": [{"Name": query.dimension, "Value": query.value}],
            },
            "Period": int(PERIOD.total_seconds()),
            "Stat": query.stat,
        },
        "ReturnData": True,
    }


def _get_metric_data(
    cloudwatch: Any, batch: list[dict[str, Any]], start: datetime, end: datetime
) -> list[tuple[str, datetime, float]]:
    found: list[tuple[str, datetime, float]] = []
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=batch, StartTime=start, EndTime=end, ScanBy="TimestampAscending", **extra
        )
        for result in answer.get("MetricDataResults", []):
            found += [
                (result["Id"], at.astimezone(UTC), float(value))
                for at, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                if start <= at < end
            ]
        token = answer.get("NextToken")
        if not token:
            return found
