"""The incident plan's baseline and verification numbers, read live: depths, lag, the workers'
metrics of the last hour, in-service instances; and its success metrics as pass/fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.declared import DeclaredStack
from audit.live_state import LiveState

WORKER_METRICS = (
    "MessagesProcessed",
    "MessageProcessingFailed",
    "MessagesDeadLettered",
    "MessageDeleteFailed",
)
SUCCESS_RATE_FLOOR = 95.0
LAG_LIMIT_SECONDS = 300


@dataclass
class Baseline:
    queue_visible: int | None = None
    queue_in_flight: int | None = None
    dlq_visible: int | None = None
    oldest_message_age_seconds: float | None = None
    worker_metrics_last_hour: dict[str, float] = field(default_factory=dict)
    success_rate_percent: float | None = None
    in_service_instances: int | None = None
    latest_instance_refresh: str | None = None


def read_baseline(
    declared: DeclaredStack, live: LiveState, cloudwatch: Any, now: datetime | None = None
) -> Baseline:
    now = now or datetime.now(UTC)
    baseline = Baseline()
    work = live.queues.get(declared.work_queue or "", {})
    dead = live.queues.get(declared.dead_letter_queue or "", {})
    if work:
        baseline.queue_visible = int(work.get("ApproximateNumberOfMessages", 0))
        baseline.queue_in_flight = int(work.get("ApproximateNumberOfMessagesNotVisible", 0))
    if dead:
        baseline.dlq_visible = int(dead.get("ApproximateNumberOfMessages", 0))
    queue_dimension = [{"Name": "QueueName", "Value": declared.work_queue or ""}]
    age = _statistic(
        cloudwatch,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        queue_dimension,
        "Maximum",
        now - timedelta(minutes=10),
        now,
    )
    baseline.oldest_message_age_seconds = max(age) if age else None
    for name in WORKER_METRICS:
        values = _statistic(
            cloudwatch, declared.metric_namespace, name, queue_dimension, "Sum", now - timedelta(hours=1), now
        )
        baseline.worker_metrics_last_hour[name] = sum(values)
    processed = baseline.worker_metrics_last_hour["MessagesProcessed"]
    failed = baseline.worker_metrics_last_hour["MessageProcessingFailed"]
    baseline.success_rate_percent = (
        round(100 * processed / (processed + failed), 2) if processed + failed else None
    )
    if live.group is not None:
        baseline.in_service_instances = sum(
            1 for i in live.group.get("Instances", []) if i.get("LifecycleState") == "InService"
        )
    if live.latest_refresh:
        refresh = live.latest_refresh
        baseline.latest_instance_refresh = f"{refresh.get('Status')} {refresh.get('PercentageComplete', 0)}%"
    return baseline


def _statistic(
    cloudwatch: Any,
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]],
    stat: str,
    start: datetime,
    end: datetime,
) -> list[float]:
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=start,
        EndTime=end + timedelta(minutes=1),
        Period=60,
        Statistics=[stat],
    )["Datapoints"]
    return [point[stat] for point in points]


@dataclass(frozen=True)
class SuccessCheck:
    name: str
    passed: bool
    detail: str


def success_checks(baseline: Baseline, declared: DeclaredStack) -> list[SuccessCheck]:
    metrics = baseline.worker_metrics_last_hour
    checks = [
        SuccessCheck(
            "DLQ empty",
            not baseline.dlq_visible,
            f"{baseline.dlq_visible} message(s) wait in {declared.dead_letter_queue}"
            if baseline.dlq_visible
            else "0 messages",
        ),
        SuccessCheck(
            "no MessageDeleteFailed in the last hour",
            metrics.get("MessageDeleteFailed", 0) == 0,
            f"MessageDeleteFailed = {metrics.get('MessageDeleteFailed', 0):g}",
        ),
    ]
    rate = baseline.success_rate_percent
    checks.append(
        SuccessCheck(
            f"success rate >= {SUCCESS_RATE_FLOOR:g} % in the last hour",
            rate is None or rate >= SUCCESS_RATE_FLOOR,
            "no files processed in the last hour" if rate is None else f"{rate:g} %",
        )
    )
    age = baseline.oldest_message_age_seconds
    checks.append(
        SuccessCheck(
            f"indexing lag < {LAG_LIMIT_SECONDS // 60} min",
            age is None or age < LAG_LIMIT_SECONDS,
            "no ApproximateAgeOfOldestMessage data" if age is None else f"oldest message {age:g} s",
        )
    )
    if baseline.in_service_instances is not None:
        stranded = (baseline.queue_visible or 0) > 0 and baseline.in_service_instances == 0
        checks.append(
            SuccessCheck(
                "workers in service while there is a backlog",
                not stranded,
                f"{baseline.in_service_instances} in service",
            )
        )
    return checks
