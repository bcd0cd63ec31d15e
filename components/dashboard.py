"""The pipeline's CloudWatch dashboard, built from data (never a hand-written JSON string).

One row per question the incident plan asked by hand: is the queue draining, is the DLQ stable, how
old is the oldest file, what do the workers do per minute, do they succeed, are they running (the
group's instances in ec2 mode; the function's invocations, errors, throttles and duration in lambda mode).
"""

from __future__ import annotations

from typing import Any

from worker import contract as worker_metrics

WIDTH = 12
HEIGHT = 6


def _widget(
    title: str, metrics: list[list[Any]], region: str, position: int, stat: str = "Sum", **extra: Any
) -> dict:
    return {
        "type": "metric",
        "x": (position % 2) * WIDTH,
        "y": (position // 2) * HEIGHT,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            "metrics": metrics,
            **extra,
        },
    }


def dashboard_body(
    region: str,
    queue_name: str,
    dlq_name: str,
    group_name: str | None,
    namespace: str,
    function_name: str | None = None,
) -> dict[str, Any]:
    """The widgets; the last row shows the consumer: the group's instances (ec2) or the function (lambda)."""
    worker = [worker_metrics.QUEUE_DIMENSION, queue_name]
    widgets = [
        (
            "Queue depth (visible / in flight)",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name],
                ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue_name],
            ],
            "Maximum",
            {},
        ),
        (
            "Dead-letter queue depth",
            [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq_name]],
            "Maximum",
            {},
        ),
        (
            "Oldest message age (s)",
            [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name]],
            "Maximum",
            {},
        ),
        (
            "Worker outcomes per minute",
            [
                [namespace, worker_metrics.PROCESSED, *worker],
                [namespace, worker_metrics.FAILED, *worker],
                [namespace, worker_metrics.DEAD_LETTERED, *worker],
                [namespace, worker_metrics.DELETE_FAILED, *worker],
            ],
            "Sum",
            {},
        ),
        (
            "Success rate (%)",
            [
                [namespace, worker_metrics.PROCESSED, *worker, {"id": "processed", "visible": False}],
                [namespace, worker_metrics.FAILED, *worker, {"id": "failed", "visible": False}],
                [
                    {
                        "expression": "100 * processed / (processed + failed)",
                        "label": "success rate",
                        "id": "rate",
                    }
                ],
            ],
            "Sum",
            {"yAxis": {"left": {"min": 0, "max": 100}}},
        ),
    ]
    if group_name is not None:
        widgets.append(
            (
                "In-service workers",
                [["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", group_name]],
                "Average",
                {},
            )
        )
    if function_name is not None:
        widgets.append(
            (
                "Function invocations / errors / throttles",
                [
                    ["AWS/Lambda", metric, "FunctionName", function_name]
                    for metric in ("Invocations", "Errors", "Throttles")
                ],
                "Sum",
                {},
            )
        )
        widgets.append(
            (
                "Function duration, longest (ms)",
                [["AWS/Lambda", "Duration", "FunctionName", function_name]],
                "Maximum",
                {},
            )
        )
    return {
        "widgets": [
            _widget(title, metrics, region, position, stat, **extra)
            for position, (title, metrics, stat, extra) in enumerate(widgets)
        ]
    }
