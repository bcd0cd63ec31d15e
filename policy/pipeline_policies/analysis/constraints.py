"""AWS's documented constraints on the hops of the delivery graph, as one table: each row names what AWS does,
the page that says so, the rule (concern) that reports it, and the check on one edge.

A row's check returns the message for a violated edge, or None. Rows decide only on what the stack holds:
an ARN not known yet, or a resource declared elsewhere, is never taken as a violation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .delivery import on_default_bus, rule_match
from .graph import EVENTS, S3, SNS, Edge, delivery_graph
from .model import Queue, StackIndex, Topic, _text
from .types import BUCKET_NOTIFICATION
from .values import as_list, is_unknown, json_document, peek


@dataclass(frozen=True)
class Constraint:
    name: str
    concern: str
    """The rule module that reports it: notifications, dead-letters, lambda-consumers."""
    aws_page: str
    check: Callable[[StackIndex, Edge], str | None]


def _is_fifo(node_model: Any) -> bool:
    if isinstance(node_model, Queue):
        return node_model.fifo
    if isinstance(node_model, Topic):
        props = node_model.resource.props
        return peek(props, "fifoTopic") is True or str(peek(props, "name") or "").endswith(".fifo")
    return False


def _region_account(arn: str | None) -> tuple[str, str] | None:
    parts = arn.split(":") if arn and not is_unknown(arn) else []
    return (parts[3], parts[4]) if len(parts) > 5 and parts[3] and parts[4] else None


def _s3_destination_standard(index: StackIndex, edge: Edge) -> str | None:
    if edge.service != S3 or not _is_fifo(edge.target.model):
        return None
    return (
        f"bucket {edge.source.label} notifies {edge.target.kind} {edge.target.label}, which is FIFO: S3 event "
        "notifications support only standard SQS queues and standard SNS topics as destinations, so S3 refuses "
        "the notification configuration and no upload is ever announced. Use a standard queue (or topic), or "
        "route through EventBridge with a FIFO target."
    )


def _sns_to_fifo_queue(index: StackIndex, edge: Edge) -> str | None:
    if edge.service != SNS or not _is_fifo(edge.target.model) or _is_fifo(edge.source.model):
        return None
    return (
        f"standard topic {edge.source.label} is subscribed by FIFO queue {edge.target.label}: SNS delivers to a "
        "FIFO queue only from a FIFO topic, so the subscription never delivers. Make the topic FIFO (fifoTopic) "
        "or the queue standard."
    )


def _eventbridge_enabled(index: StackIndex, edge: Edge) -> str | None:
    """An S3 rule whose bucket (of this stack) has EventBridge delivery off never fires."""
    if edge.service != EVENTS:
        return None
    match = rule_match(index, edge.source.resource)
    if match is None or match.buckets is None:
        return None
    enabled = {n.bucket_key for n in index.notifications if n.eventbridge}
    stack_buckets = {bucket.urn: bucket for bucket in index.buckets}
    named = [key for key in match.buckets if key in stack_buckets]
    if not named or len(named) < len(match.buckets) or any(key in enabled for key in named):
        return None  # a bucket of another stack may have it on; one of ours has it on
    if any(is_unknown(peek(n.props, "eventbridge")) for n in index.by_type.get(BUCKET_NOTIFICATION, [])):
        return None
    labels = ", ".join(
        str(peek(stack_buckets[key].props, "bucket") or stack_buckets[key].name) for key in named
    )
    return (
        f"EventBridge rule {edge.source.label} matches S3 events of bucket {labels}, but that bucket does not send "
        f"events to EventBridge (no aws.s3.BucketNotification with eventbridge=True): the rule never fires and "
        f"{edge.target.kind} {edge.target.label} never receives an upload. Set eventbridge=True on the bucket's "
        "notification."
    )


def _eventbridge_default_bus(index: StackIndex, edge: Edge) -> str | None:
    if edge.service != EVENTS or on_default_bus(edge.source.resource):
        return None
    bus = peek(edge.source.resource.props, "eventBusName")
    return (
        f"EventBridge rule {edge.source.label} matches S3 events but lives on event bus "
        f"{bus if _text(bus) else '(a custom bus)'}: S3 sends its events only to the account's default event "
        f"bus, so the rule never fires and {edge.target.kind} {edge.target.label} never receives an upload. Put "
        "the rule on the default bus (or forward from a default-bus rule to the custom bus)."
    )


def _dlq_same_type(index: StackIndex, edge: Edge) -> str | None:
    source, dlq = edge.source.model, edge.target.model
    if edge.action != "redrive" or dlq.fifo == source.fifo:
        return None
    kinds = ("FIFO", "standard") if source.fifo else ("standard", "FIFO")
    return (
        f"queue {source.label} is a {kinds[0]} queue but its dead-letter queue {dlq.label} is {kinds[1]}: "
        "SQS requires a DLQ of the same type and rejects the redrive policy. Make both FIFO or both "
        "standard."
    )


def _dlq_same_region_account(index: StackIndex, edge: Edge) -> str | None:
    if edge.action != "redrive":
        return None
    source, dlq = _region_account(edge.source.arn), _region_account(edge.target.arn)
    if source is None or dlq is None or source == dlq:
        return None
    return (
        f"queue {edge.source.label} ({source[0]}, account {source[1]}) redrives to {edge.target.label} "
        f"({dlq[0]}, account {dlq[1]}): a dead-letter queue must be in the same account and Region as its "
        "source, so SQS rejects the redrive policy and failed messages are never moved. Create the DLQ "
        "beside its source queue."
    )


def _redrive_allowed(index: StackIndex, edge: Edge) -> str | None:
    """The DLQ's redrive allow policy must admit the source (denyAll, or byQueue without it, refuse it)."""
    if edge.action != "redrive":
        return None
    dlq: Queue = edge.target.model
    source_arn = edge.source.arn
    for raw in dlq.redrive_allow:
        if raw in (None, "") or is_unknown(raw):
            continue
        document = json_document(raw) or {}
        permission = peek(document, "redrivePermission")
        if permission == "denyAll":
            why = "its redrive allow policy is denyAll"
        elif permission == "byQueue":
            allowed = [str(arn) for arn in as_list(peek(document, "sourceQueueArns")) if not is_unknown(arn)]
            if source_arn is None or any(is_unknown(a) for a in as_list(peek(document, "sourceQueueArns"))):
                continue
            if source_arn in allowed:
                continue
            why = f"its redrive allow policy (byQueue) admits only {', '.join(allowed) or 'no queue'}"
        else:
            continue
        return (
            f"queue {edge.source.label} redrives to {dlq.label}, but {why}: SQS refuses that queue as the "
            f"dead-letter queue of {edge.source.label}, so a message that always fails is never moved. Set the "
            f"DLQ's redriveAllowPolicy to byQueue with {edge.source.label}'s ARN in sourceQueueArns (or allowAll)."
        )
    return None


S3_DESTINATIONS_PAGE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-queueconfiguration.html"
CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint("s3-destination-is-standard", "notifications", S3_DESTINATIONS_PAGE, _s3_destination_standard),
    Constraint(
        "sns-fifo-queue-needs-fifo-topic",
        "notifications",
        "https://docs.aws.amazon.com/sns/latest/dg/fifo-topic-subscriptions.html",
        _sns_to_fifo_queue,
    ),
    Constraint(
        "eventbridge-delivery-enabled",
        "notifications",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html",
        _eventbridge_enabled,
    ),
    Constraint(
        "s3-events-reach-the-default-bus-only",
        "notifications",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html",
        _eventbridge_default_bus,
    ),
    Constraint(
        "dead-letter-queue-same-type",
        "dead-letters",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html",
        _dlq_same_type,
    ),
    Constraint(
        "dead-letter-queue-same-account-and-region",
        "dead-letters",
        "https://docs.aws.amazon.com/sdk-for-java/v1/developer-guide/examples-sqs-dead-letter-queues.html",
        _dlq_same_region_account,
    ),
    Constraint(
        "redrive-allow-policy-admits-source",
        "dead-letters",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html",
        _redrive_allowed,
    ),
)


def violations(index: StackIndex, concern: str) -> list[tuple[Constraint, Edge, str]]:
    """Every (row, edge, message) of one concern whose check fails."""
    found = []
    for edge in delivery_graph(index).edges:
        for row in CONSTRAINTS:
            if row.concern != concern:
                continue
            message = row.check(index, edge)
            if message is not None:
                found.append((row, edge, message))
    return found


def arn_region(arn: Any) -> str | None:
    located = _region_account(_text(arn))
    return located[0] if located else None
