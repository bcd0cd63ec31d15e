"""The incident plan's baseline and verification numbers, read live: depths, lag, the workers'
metrics of the last hour, in-service instances; judged by worker/success_criteria.py (the same
checks the drill uses), so no data is reported as NO DATA and never counted as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.declared import DeclaredStack
from audit.live_state import LiveState
from worker import contract, success_criteria
from worker.success_criteria import CheckResult

WORKER_METRICS = contract.SUCCESS_METRICS
LAG_METRIC = "ApproximateAgeOfOldestMessage"
"""AWS/SQS publishes it per queue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html)."""


@dataclass
class Baseline:
    queue_visible: int | None = None
    queue_in_flight: int | None = None
    dlq_visible: int | None = None
    oldest_message_age_seconds: float | None = None
    worker_metrics_last_hour: dict[str, float | None] = field(default_factory=dict)
    """Metric -> its sum over the last hour; None when CloudWatch holds no datapoint for it."""
    success_rate_percent: float | None = None
    in_service_instances: int | None = None
    latest_instance_refresh: str | None = None
    function_consuming: bool | None = None
    """Lambda mode: the function exists and an enabled event source mapping feeds it the work queue."""


def read_baseline(
    declared: DeclaredStack, live: LiveState, cloudwatch: Any, now: datetime | None = None
) -> Baseline:
    now = now or datetime.now(UTC)
    baseline = Baseline()
    work = live.queues.get(declared.work_queue or "")
    dead = live.queues.get(declared.dead_letter_queue or "")
    if work is not None:
        baseline.queue_visible = int(work.get("ApproximateNumberOfMessages", 0))
        baseline.queue_in_flight = int(work.get("ApproximateNumberOfMessagesNotVisible", 0))
    if dead is not None:
        baseline.dlq_visible = int(dead.get("ApproximateNumberOfMessages", 0))
    queue_dimension = [{"Name": contract.QUEUE_DIMENSION, "Value": declared.work_queue or ""}]
    age = _statistic(
        cloudwatch, "AWS/SQS", LAG_METRIC, queue_dimension, "Maximum", now - timedelta(minutes=10), now
    )
    baseline.oldest_message_age_seconds = max(age) if age else None
    for name in WORKER_METRICS:
        values = _statistic(
            cloudwatch, declared.metric_namespace, name, queue_dimension, "Sum", now - timedelta(hours=1), now
        )
        baseline.worker_metrics_last_hour[name] = sum(values) if values else None
    processed = baseline.worker_metrics_last_hour[contract.PROCESSED] or 0
    failed = baseline.worker_metrics_last_hour[contract.FAILED] or 0
    baseline.success_rate_percent = (
        round(100 * processed / (processed + failed), 2) if processed + failed else None
    )
    if live.group is not None:
        baseline.in_service_instances = sum(
            1 for i in live.group.get("Instances", []) if i.get("LifecycleState") == "InService"
        )
    if live.function is not None:
        baseline.function_consuming = live.function.consuming
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


def success_checks(baseline: Baseline, declared: DeclaredStack) -> list[CheckResult]:
    """The incident plan's success metrics, each PASS, FAIL or NO DATA with why."""
    metrics = baseline.worker_metrics_last_hour
    backlog = baseline.queue_visible
    return [
        success_criteria.dead_letter_queue_empty(baseline.dlq_visible, declared.dead_letter_queue),
        success_criteria.no_delete_failures(metrics.get(contract.DELETE_FAILED)),
        success_criteria.success_rate(metrics.get(contract.PROCESSED), metrics.get(contract.FAILED), backlog),
        success_criteria.indexing_lag(baseline.oldest_message_age_seconds, backlog),
        consumer_check(baseline, declared),
    ]


def consumer_check(baseline: Baseline, declared: DeclaredStack) -> CheckResult:
    """ec2 mode: workers in service while messages wait. Lambda mode: the function exists and an enabled
    event source mapping feeds it the queue (read live), judged the same way: none while messages wait
    fails, none and nothing waiting is NO DATA, never a pass."""
    if declared.function_name is None:
        return success_criteria.workers_in_service(
            baseline.in_service_instances, backlog=baseline.queue_visible
        )
    name = "function consumes the queue"
    if baseline.function_consuming:
        return CheckResult(
            name,
            success_criteria.Verdict.PASS,
            f"function {declared.function_name} exists and an enabled event source mapping feeds it",
        )
    what = (
        "not read"
        if baseline.function_consuming is None
        else "missing, or without an enabled event source mapping from the queue"
    )
    if baseline.queue_visible:
        return CheckResult(
            name,
            success_criteria.Verdict.FAIL,
            f"function {declared.function_name} {what} while {baseline.queue_visible} message(s) wait",
        )
    return CheckResult(
        name, success_criteria.Verdict.NO_DATA, f"function {declared.function_name} {what}, nothing waiting"
    )
