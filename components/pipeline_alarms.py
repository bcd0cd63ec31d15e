"""Alarms and their topic: the monitoring the incident plan did by hand (`watch aws sqs ...`, checking
`MessageDeleteFailed`), declared so every stack has it and a bad rollout rolls itself back.

The alarms are data first (`alarm_specs`), resources second, so tests can read each threshold and
evaluate each metric-math expression without AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.dashboard import dashboard_body
from components.settings import AlarmSettings, ComputeSettings, FleetSettings, PipelineSettings
from worker import contract

MINUTE = 60
FIVE_MINUTES = 300


@dataclass(frozen=True)
class AlarmSpec:
    key: str
    description: str
    threshold: float
    comparison: str
    evaluation_periods: int
    treat_missing_data: str
    metric: dict[str, Any] | None = None
    """A single metric: namespace, metric_name, dimensions, statistic, period."""
    queries: list[dict[str, Any]] = field(default_factory=list)
    """Metric math: queries with id, and either a metric or an expression (one returns data)."""
    rollout: bool = False
    """Feeds the fleet's instance-refresh alarm specification: firing stops and rolls back a rollout."""


def _metric(namespace: str, name: str, dimensions: dict[str, str], stat: str, period: int) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "metric_name": name,
        "dimensions": dimensions,
        "stat": stat,
        "period": period,
    }


@dataclass(frozen=True)
class FunctionConsumer:
    """Lambda mode's consumer, as its alarms see it."""

    name: str
    timeout_seconds: int


DURATION_NEAR_TIMEOUT = 0.85
"""The duration alarm fires when an invocation used this share of the function's timeout."""


def alarm_specs(
    settings: AlarmSettings,
    queue_name: str,
    dlq_name: str,
    group_name: str | None,
    metric_namespace: str,
    function: FunctionConsumer | None = None,
) -> list[AlarmSpec]:
    """The alarms of one stack: the queue's and DLQ's, the worker metrics' (EC2 workers and the Lambda
    handler publish the same names with the QueueName dimension), and the consumer's own - the Auto
    Scaling Group's in ec2 mode (`group_name`), the function's in lambda mode (`function`)."""
    queue, dlq = {"QueueName": queue_name}, {"QueueName": dlq_name}
    worker = {contract.QUEUE_DIMENSION: queue_name}  # the dimension the worker publishes with
    if function is None:
        behind = "Check in-service workers and the backlog-per-instance scaling."
        slow = "Check that scaling reached maxWorkers; raise it or look for a slow dependency."
        rollback = "A running instance refresh rolls back on its own; otherwise check"
    else:
        behind = f"Check {function.name}'s Throttles and Errors and the mapping's maximum concurrency."
        slow = (
            "Check that the mapping reached lambdaMaximumConcurrency; raise it or look for a slow dependency."
        )
        rollback = "Check"
    specs = [
        AlarmSpec(
            key="dlq-has-messages",
            description=f"Files failed for good and wait in {dlq_name}. Read the messages' Reason attribute, fix "
            "the file or the worker, then redrive them to the work queue (SQS console: Start DLQ redrive).",
            threshold=0,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, "Maximum", MINUTE),
        ),
        AlarmSpec(
            key="dlq-growing-fast",
            description=f"More than {settings.dlq_growth_per_five_minutes} messages reached {dlq_name} within five "
            f"minutes: a bad rollout or a broken dependency. {rollback} the worker logs (outcome, reason) and roll "
            "back.",
            threshold=settings.dlq_growth_per_five_minutes,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            queries=[
                {
                    "id": "dlq",
                    "metric": _metric(
                        "AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, "Maximum", FIVE_MINUTES
                    ),
                },
                {
                    "id": "growth",
                    "expression": "DIFF(dlq)",
                    "label": "DLQ growth per five minutes",
                    "return_data": True,
                },
            ],
            rollout=True,
        ),
        AlarmSpec(
            key="indexing-lag",
            description=f"The oldest message in {queue_name} has waited more than "
            f"{settings.oldest_message_age_threshold_seconds} s: workers are behind or stuck. {behind}",
            threshold=settings.oldest_message_age_threshold_seconds,
            comparison="GreaterThanThreshold",
            evaluation_periods=5,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/SQS", "ApproximateAgeOfOldestMessage", queue, "Maximum", MINUTE),
        ),
        AlarmSpec(
            key="delete-failures",
            description="Workers processed messages but could not delete them (MessageDeleteFailed): they will "
            "come back and be processed again - the incident's signature. Check the worker role's "
            "sqs:DeleteMessage and the error in the worker logs.",
            threshold=0,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric=_metric(metric_namespace, contract.DELETE_FAILED, worker, "Sum", MINUTE),
            rollout=True,
        ),
        AlarmSpec(
            key="message-loop",
            description=f"Messages are received {settings.loop_receive_to_delete_ratio}x more often than deleted: "
            "the same messages keep coming back (the incident's infinite loop). Stop the rollout, check that the "
            "worker deletes, and that the visibility timeout covers processing.",
            threshold=settings.loop_receive_to_delete_ratio,
            comparison="GreaterThanThreshold",
            evaluation_periods=2,
            treat_missing_data="notBreaching",
            queries=[
                {
                    "id": "received",
                    "metric": _metric("AWS/SQS", "NumberOfMessagesReceived", queue, "Sum", FIVE_MINUTES),
                },
                {
                    "id": "deleted",
                    "metric": _metric("AWS/SQS", "NumberOfMessagesDeleted", queue, "Sum", FIVE_MINUTES),
                },
                {
                    "id": "loop",
                    "expression": f"IF(received > {settings.loop_minimum_receives}, received / (deleted + 1), 0)",
                    "label": "Receives per delete",
                    "return_data": True,
                },
            ],
            rollout=True,
        ),
        AlarmSpec(
            key="backlog-sustained",
            description=f"More than {settings.backlog_threshold} messages have waited for "
            f"{settings.backlog_sustained_minutes} minutes. {slow}",
            threshold=settings.backlog_threshold,
            comparison="GreaterThanThreshold",
            evaluation_periods=settings.backlog_sustained_minutes,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum", MINUTE),
        ),
        AlarmSpec(
            key="success-rate-low",
            description=f"Fewer than {settings.success_rate_percent_threshold} % of processed files succeed "
            "(MessagesProcessed vs MessageProcessingFailed). Read the failing outcomes and reasons in the worker logs.",
            threshold=settings.success_rate_percent_threshold,
            comparison="LessThanThreshold",
            evaluation_periods=3,
            treat_missing_data="notBreaching",
            queries=[
                {
                    "id": "processed",
                    "metric": _metric(metric_namespace, contract.PROCESSED, worker, "Sum", FIVE_MINUTES),
                },
                {
                    "id": "failed",
                    "metric": _metric(metric_namespace, contract.FAILED, worker, "Sum", FIVE_MINUTES),
                },
                {
                    "id": "success_rate",
                    "expression": "IF(processed + failed > 0, 100 * processed / (processed + failed), 100)",
                    "label": "Success rate (%)",
                    "return_data": True,
                },
            ],
        ),
    ]
    if function is None:  # only the EC2 worker extends visibility; Lambda's event source mapping does
        specs.insert(4, _visibility_lost_spec(metric_namespace, worker))
    if group_name is not None:  # beside the other queue alarms, before the success rate (the last)
        specs.insert(len(specs) - 1, _no_workers_spec(queue_name, group_name))
    if function is not None:
        specs += function_alarm_specs(function)
    return specs


def _visibility_lost_spec(metric_namespace: str, worker: dict[str, str]) -> AlarmSpec:
    """ec2 mode: a message a worker held lost its visibility, so another worker may process it too
    (MessageVisibilityLost, docs/monitoring.md "Lost messages")."""
    return AlarmSpec(
        key="visibility-lost",
        description="A message a worker held lost its visibility (MessageVisibilityLost): another worker may "
        "process that file too. Read the 'message lost' log lines (how) and the host's load (CPU, a stalled "
        "heartbeat); if it recurs, raise visibilityTimeoutSeconds or lower the worker's HEARTBEAT_SECONDS.",
        threshold=0,
        comparison="GreaterThanThreshold",
        evaluation_periods=1,
        treat_missing_data="notBreaching",
        metric=_metric(metric_namespace, contract.VISIBILITY_LOST, worker, "Sum", FIVE_MINUTES),
    )


def _no_workers_spec(queue_name: str, group_name: str) -> AlarmSpec:
    """ec2 mode: messages wait while the group has no in-service instance."""
    queue, group = {"QueueName": queue_name}, {"AutoScalingGroupName": group_name}
    return AlarmSpec(
        key="no-workers-with-backlog",
        description=f"Messages wait in {queue_name} but {group_name} has no in-service instance. Check the "
        "Auto Scaling activity history and the launch template's last instance refresh.",
        threshold=0,
        comparison="GreaterThanThreshold",
        evaluation_periods=2,
        treat_missing_data="breaching",
        queries=[
            {
                "id": "visible",
                "metric": _metric(
                    "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum", FIVE_MINUTES
                ),
            },
            {
                "id": "in_service",
                "metric": _metric(
                    "AWS/AutoScaling", "GroupInServiceInstances", group, "Minimum", FIVE_MINUTES
                ),
            },
            {
                "id": "stranded",
                "expression": "IF(visible > 0 AND FILL(in_service, 0) < 1, 1, 0)",
                "label": "Backlog without workers",
                "return_data": True,
            },
        ],
    )


def function_alarm_specs(function: FunctionConsumer) -> list[AlarmSpec]:
    """lambda mode: the function's own failures, on AWS/Lambda with the FunctionName dimension
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). Errors count invocations
    that failed as a whole (an exception or a timeout: the whole batch comes back), not the records the
    handler reports in batchItemFailures; Throttles should stay 0 under the mapping's maximum concurrency."""
    dimensions = {"FunctionName": function.name}
    near_timeout_ms = round(function.timeout_seconds * 1000 * DURATION_NEAR_TIMEOUT)
    return [
        AlarmSpec(
            key="function-errors",
            description=f"{function.name} failed whole invocations (an unhandled exception or a timeout): every "
            "record of those batches comes back after the visibility timeout. Read the function's log for the "
            "error; per-record failures are reported, not counted here.",
            threshold=0,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/Lambda", "Errors", dimensions, "Sum", FIVE_MINUTES),
        ),
        AlarmSpec(
            key="function-throttles",
            description=f"Invocations of {function.name} were throttled: the account's or the function's "
            "concurrency is below the mapping's maximum concurrency. Raise the concurrency quota or lower "
            "lambdaMaximumConcurrency.",
            threshold=0,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/Lambda", "Throttles", dimensions, "Sum", FIVE_MINUTES),
        ),
        AlarmSpec(
            key="function-duration-near-timeout",
            description=f"An invocation of {function.name} ran longer than {DURATION_NEAR_TIMEOUT:.0%} of its "
            f"{function.timeout_seconds} s timeout: the next larger file may be stopped mid-way and retried. "
            "Raise lambdaTimeoutSeconds (and visibilityTimeoutSeconds to 6x it), lower lambdaBatchSize, or "
            "move the largest files to ec2 mode.",
            threshold=near_timeout_ms,
            comparison="GreaterThanThreshold",
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            metric=_metric("AWS/Lambda", "Duration", dimensions, "Maximum", MINUTE),
        ),
    ]


def _query_args(query: dict[str, Any]) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    metric = query.get("metric")
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query["id"],
        expression=query.get("expression"),
        label=query.get("label"),
        return_data=query.get("return_data", False),
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=metric["namespace"],
            metric_name=metric["metric_name"],
            dimensions=metric["dimensions"],
            stat=metric["stat"],
            period=metric["period"],
        )
        if metric
        else None,
    )


def alarm_topic_key_policy(account_id: str) -> dict:
    """The alarm topic key's policy: the account administers the key (so IAM policies govern it and it can
    never become unmanageable), and CloudWatch may use it to publish to the encrypted topic.

    CloudWatch cannot publish to a topic encrypted with the AWS-managed key `alias/aws/sns`, whose policy
    nobody can change; a customer managed key must allow cloudwatch.amazonaws.com kms:Decrypt and
    kms:GenerateDataKey* ("Enable compatibility between event sources from AWS services and encrypted
    topics", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). Who may publish to the
    topic at all stays the topic policy's decision (the default one admits only this account).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ],
    }


@dataclass
class PipelineAlarmsArgs:
    settings: AlarmSettings
    """The validated alarm thresholds and subscribers."""
    pipeline: PipelineSettings
    """The validated pipeline settings: queue names, metric namespace, the name prefix."""
    fleet: FleetSettings
    """The validated fleet settings: the group the no-workers alarm watches (ec2 mode)."""
    compute: ComputeSettings
    """The validated compute settings: which consumer's alarms (the group's or the function's)."""
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]


class PipelineAlarms(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    rollout_alarm_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: PipelineAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cis:monitoring:PipelineAlarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        pipeline, prefix = args.pipeline, args.pipeline.name_prefix
        queue_name, dlq_name = pipeline.queue_name, pipeline.dead_letter_queue_name
        namespace, compute = pipeline.metric_namespace, args.compute
        group_name = None if compute.is_lambda else args.fleet.worker_group_name
        function = (
            FunctionConsumer(compute.function_name, compute.lambda_timeout_seconds)
            if compute.is_lambda
            else None
        )
        self.topic_key = aws.kms.Key(
            f"{name}-topic-key",
            description=f"Encrypts the {prefix} alarm topic; CloudWatch may use it to publish alarms",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda account_id: json.dumps(alarm_topic_key_policy(account_id))
            ),
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-topic-key-alias",
            name=f"alias/{prefix}-alarms",
            target_key_id=self.topic_key.arn,
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=f"{prefix}-alarms", kms_master_key_id=self.topic_key.arn, opts=child
        )
        for position, email in enumerate(args.settings.alarm_emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{position}", topic=self.topic.arn, protocol="email", endpoint=email, opts=child
            )
        self.alarms = {}
        specs = alarm_specs(args.settings, queue_name, dlq_name, group_name, namespace, function)
        for spec in specs:
            metric = spec.metric or {}
            self.alarms[spec.key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.key}",
                name=f"{prefix}-{spec.key}",
                alarm_description=spec.description,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                treat_missing_data=spec.treat_missing_data,
                namespace=metric.get("namespace"),
                metric_name=metric.get("metric_name"),
                dimensions=metric.get("dimensions"),
                statistic=metric.get("stat"),
                period=metric.get("period"),
                metric_queries=[_query_args(query) for query in spec.queries] or None,
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                opts=child,
            )
        # Outputs of the alarms themselves, so the fleet's instance refresh is declared after they exist.
        # Only the fleet rolls back (ec2 mode); a function version has no instance refresh to stop.
        self.rollout_alarm_names = pulumi.Output.all(
            *[self.alarms[spec.key].name for spec in specs if spec.rollout and not compute.is_lambda]
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=prefix,
            dashboard_body=pulumi.Output.from_input(args.region).apply(
                lambda region: json.dumps(
                    dashboard_body(
                        region,
                        queue_name,
                        dlq_name,
                        group_name,
                        namespace,
                        function.name if function else None,
                    )
                )
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                "alarmNames": [alarm.name for alarm in self.alarms.values()],
                "dashboardName": self.dashboard.dashboard_name,
            }
        )
