"""Alarms that can reach someone: CloudWatch must be able to publish to the SNS topics its alarms name.

CloudWatch publishes alarm notifications to an encrypted topic only when the topic's KMS key lets the
service principal `cloudwatch.amazonaws.com` use it (kms:Decrypt, kms:GenerateDataKey*). The
AWS-managed key `alias/aws/sns` has a key policy nobody can change, which does not, so alarms that
publish to a topic encrypted with it are dropped silently:
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
Composite alarms publish their actions the same way:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.authorisation import authorise
from ..analysis.graph import CLOUDWATCH, Edge, delivery_graph
from ..analysis.model import StackIndex
from ..analysis.values import UNKNOWN, elements, is_unknown, known, peek
from .common import Finding, Settings, stack_validator

SNS_KMS_DOC = (
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"
)


def alarm_topic_findings(index: StackIndex) -> list[tuple[bool, str, str]]:
    """(decided, message, urn) for each topic alarms publish to that CloudWatch cannot use: the alarm edges of
    the delivery graph, decided by the one authorisation function (topic policy, then key)."""
    by_topic: dict[int, list[Edge]] = {}
    for edge in delivery_graph(index).delivering():
        if edge.service == CLOUDWATCH:
            by_topic.setdefault(id(edge.target.model), []).append(edge)
    findings = []
    not_known = False
    for edges in by_topic.values():
        decisions = [authorise(index, edge) for edge in edges]
        refused = [decision for decision in decisions if decision.allowed is not True]
        if not refused:
            continue
        decision = refused[0]
        if decision.kind == "not-known-yet":
            not_known = True
            continue
        names = [edge.source.label for edge in edges]
        alarms_text = f"{len(names)} alarm(s) ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
        topic = edges[0].target
        findings.append(
            (
                decision.allowed is False,
                f"topic {topic.label}: the {alarms_text} that publish to it are never delivered, silently: "
                f"{decision.reason}. {decision.fix}",
                topic.resource.urn,
            )
        )
    if not_known:
        known(UNKNOWN, "policy")
    return findings


def _alarms_reach_someone(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """CloudWatch needs kms:Decrypt and kms:GenerateDataKey* on an encrypted topic's key (sns-key-management)."""
    for decided, message, urn in alarm_topic_findings(index):
        if decided:
            yield (message, urn)


alarms_reach_someone = StackValidationPolicy(
    name="alarms-reach-someone",
    description="CloudWatch alarm actions publish only to SNS topics CloudWatch can use: not encrypted with the "
    "AWS-managed key alias/aws/sns, and, with a customer-managed key, a key policy allowing "
    "cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*. Fix: a customer-managed key with that "
    "statement, or no encryption.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_alarms_reach_someone),
    remediation_steps="Create an aws.kms.Key whose policy allows the account root kms:* and Principal "
    '{"Service": "cloudwatch.amazonaws.com"} kms:Decrypt and kms:GenerateDataKey*; set the topic\'s '
    "kmsMasterKeyId to it.",
    url=SNS_KMS_DOC,
)

# --- the dead-letter queue is alarmed --------------------------------------------------------------

DLQ_METRIC = "ApproximateNumberOfMessagesVisible"


def _alarmed_queue_names(alarms: list[Any]) -> set[Any]:
    names: set[Any] = set()
    for alarm in alarms:
        metrics = [alarm.props]
        # A metric inside metric math counts only when the alarm judges it directly (returnData), not
        # through an expression such as DIFF(), which would miss a single message stuck in the DLQ.
        metrics += [
            peek(query, "metric") or {}
            for query in elements(peek(alarm.props, "metricQueries"))
            if peek(query, "returnData") is True
        ]
        for metric in metrics:
            if peek(metric, "metricName") == DLQ_METRIC and peek(metric, "namespace") == "AWS/SQS":
                queue_name = peek(peek(metric, "dimensions") or {}, "QueueName")
                names.add(UNKNOWN if is_unknown(queue_name) else str(queue_name))
    return names


def _dlq_alarmed(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """SQS metrics per queue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
    sqs-available-cloudwatch-metrics.html)."""
    alarmed = _alarmed_queue_names(index.alarms)
    for dlq in index.dead_letter_queues:
        if str(dlq.name) not in alarmed and UNKNOWN not in alarmed:
            yield (
                f"dead-letter queue {dlq.label} has no CloudWatch alarm on {DLQ_METRIC}: failed files would pile "
                "up unseen. Add an aws.cloudwatch.MetricAlarm (namespace AWS/SQS, QueueName dimension) > 0.",
                dlq.resource.urn,
            )


dlq_is_alarmed = StackValidationPolicy(
    name="dlq-is-alarmed",
    description="Each dead-letter queue has a CloudWatch alarm on ApproximateNumberOfMessagesVisible. Fix: add an "
    "aws.cloudwatch.MetricAlarm on it (namespace AWS/SQS, QueueName dimension, > 0).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_dlq_alarmed),
    remediation_steps="Add an aws.cloudwatch.MetricAlarm on AWS/SQS ApproximateNumberOfMessagesVisible with the "
    "DLQ's QueueName dimension, threshold 0, comparison GreaterThanThreshold.",
    url="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
)

ALARM_POLICIES = [alarms_reach_someone, dlq_is_alarmed]
