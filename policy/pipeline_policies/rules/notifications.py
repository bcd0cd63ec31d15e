"""Rules on how uploads become messages: each bucket event reaches a queue by exactly one path, and the
workers' output never raises a new event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.constraints import S3_DESTINATIONS_PAGE, violations
from ..analysis.delivery import (
    ALL_EVENTS,
    delivery_paths,
    filters_overlap,
    paths_overlap,
    rules_matching_bucket,
)
from ..analysis.model import StackIndex
from ..analysis.values import is_unknown, peek
from .common import Finding, Settings, stack_validator

S3_NOTIFICATION_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"
)


def _one_notification_per_bucket(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """S3 rejects overlapping destinations and each notification configuration replaces the last
    (notification-how-to-filtering.html); EventBridge delivers once per matching rule and target
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rules.html)."""
    by_bucket: dict[str, list[Any]] = {}
    for notification in index.notifications:
        bucket = notification.bucket
        by_bucket.setdefault(notification.bucket_key, []).append(notification)
        for position, first in enumerate(notification.destinations):
            for second in notification.destinations[position + 1 :]:
                if filters_overlap(first, second):
                    yield (
                        f"bucket {bucket}: two destinations ({first.kind} {first.target} and {second.kind} "
                        f"{second.target}) take the same event types under overlapping filters "
                        f"(prefix {first.prefix!r}/{second.prefix!r}, suffix {first.suffix!r}/{second.suffix!r}). "
                        "S3 rejects this configuration at deploy time ('Configurations overlap'), and a "
                        "configuration applied around it would deliver every matching upload twice. Keep one "
                        "destination per event, or make the prefix/suffix filters disjoint.",
                        notification.resource.urn,
                    )
        if (
            notification.eventbridge
            and notification.destinations
            and not rules_matching_bucket(index, notification.bucket_key)
        ):
            yield (
                f"bucket {bucket}: EventBridge delivery is enabled beside {len(notification.destinations)} direct "
                "destination(s), and no EventBridge rule in this stack uses it. S3 then sends every event to the "
                "default event bus as well, where each matching rule (of any stack) delivers it once more: a "
                "second path for every upload. Remove `eventbridge`, or declare here the rule that needs it.",
                notification.resource.urn,
            )
    for notifications in by_bucket.values():
        for extra in notifications[1:]:
            yield (
                f"bucket {extra.bucket} has {len(notifications)} BucketNotification resources "
                f"({', '.join(n.resource.name for n in notifications)}). Each one is a "
                "PutBucketNotificationConfiguration that replaces the bucket's whole configuration, so the last "
                "one applied silently removes the others and every update flips them. Declare all destinations "
                "in a single aws.s3.BucketNotification.",
                extra.resource.urn,
            )
    for paths in delivery_paths(index).values():
        reported: set[tuple[int, int]] = set()
        for position, first in enumerate(paths):
            for second in paths[position + 1 :]:
                if "eventbridge" not in (first.kind, second.kind) or not paths_overlap(first, second):
                    continue
                key = (id(first), id(second))
                if key in reported:
                    continue
                reported.add(key)
                yield (
                    f"bucket {first.bucket_label}: an upload matching both '{first.route}' and '{second.route}' "
                    f"reaches queue {first.queue.label} twice (EventBridge delivers once per matching rule and "
                    "target, beside any direct notification), so every such file is processed twice. Keep one "
                    "path from the bucket to the queue, or make their event patterns disjoint.",
                    second.urn,
                )


one_notification_per_bucket = StackValidationPolicy(
    name="one-notification-per-bucket",
    description="Each bucket event reaches a queue by exactly one path: one BucketNotification per bucket, "
    "destinations whose filters S3 accepts (no overlap for the same event type), no EventBridge rule "
    "duplicating a direct destination or another rule (the duplicate-notification incident). Fix: one "
    "aws.s3.BucketNotification per bucket with disjoint filters, and one route per queue.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_one_notification_per_bucket),
    remediation_steps="Declare every destination of a bucket in one aws.s3.BucketNotification with disjoint "
    "prefix/suffix filters per event type; route each event to a queue either directly, through SNS, or through "
    "one EventBridge rule, never two of these.",
    url=S3_NOTIFICATION_DOC,
)

# --- no recursive trigger ---------------------------------------------------------------------------


def _writers(index: StackIndex) -> dict[str, list[tuple[str, str]]]:
    """Where each consumer writes its output, by bucket: (who, prefix) from a worker's user data or a Lambda
    consumer's environment (INDEX_BUCKET, INDEX_PREFIX)."""
    environments = [
        (f"the workers of {worker.resource.name}", worker.environment) for worker in index.workers
    ]
    for consumer in index.lambda_consumers:
        variables = peek(peek(consumer.function.props, "environment") or {}, "variables") or {}
        output = {key: peek(variables, key) for key in ("INDEX_BUCKET", "INDEX_PREFIX")}
        environments.append(
            (f"Lambda {consumer.function.name}", {k: v for k, v in output.items() if v is not None})
        )
    by_bucket: dict[str, list[tuple[str, str]]] = {}
    for who, environment in environments:
        output_bucket = environment.get("INDEX_BUCKET")
        if isinstance(output_bucket, str) and output_bucket and not is_unknown(output_bucket):
            bucket = index.bucket_lookup.get(output_bucket)
            key = bucket.urn if bucket is not None else output_bucket
            prefix = environment.get("INDEX_PREFIX", "")
            by_bucket.setdefault(key, []).append((who, prefix if isinstance(prefix, str) else ""))
    return by_bucket


def _announces_creation(events: list[Any]) -> bool:
    return any(
        str(event).lower().startswith("s3:objectcreated")
        or is_unknown(event)
        or event in ("s3:*", ALL_EVENTS)
        for event in events
    )


def _no_recursive_trigger(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """An object written under a watched prefix raises another event
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html), by a notification or,
    with EventBridge delivery on, by every rule matching it
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html)."""
    writers = _writers(index)
    for notification in index.notifications:
        for destination in notification.destinations:
            if not _announces_creation(destination.events):
                continue
            for who, output_prefix in writers.get(notification.bucket_key, []):
                if destination.prefix.startswith(output_prefix) or output_prefix.startswith(
                    destination.prefix
                ):
                    yield (
                        f"bucket {notification.bucket}: the notification on prefix {destination.prefix!r} also "
                        f"matches where {who} write (INDEX_PREFIX "
                        f"{output_prefix!r}), so S3 raises a new event for each document they write and the "
                        "pipeline feeds itself. Write the output to another bucket or a prefix outside the "
                        "watched one.",
                        notification.resource.urn,
                    )
    for paths in delivery_paths(index).values():
        for path in paths:
            if path.kind != "eventbridge" or not _announces_creation(path.events):
                continue
            for who, output_prefix in writers.get(path.bucket_key, []):
                if any(
                    prefix.startswith(output_prefix) or output_prefix.startswith(prefix)
                    for prefix, _ in path.filters
                ):
                    yield (
                        f"bucket {path.bucket_label}: '{path.route}' matches objects created where {who} write "
                        f"(INDEX_PREFIX {output_prefix!r}) and delivers them to queue {path.queue.label}: with "
                        "EventBridge delivery on, each document they write raises a new event and the pipeline "
                        "feeds itself. Narrow the rule's object key pattern, or write the output to another bucket "
                        "or outside the matched prefix.",
                        path.urn,
                    )


no_recursive_trigger = StackValidationPolicy(
    name="no-recursive-trigger",
    description="No path from a bucket to a queue (a notification, an EventBridge rule) matches objects created "
    "where the consumers (workers, Lambda) write their output. Fix: "
    "write the output to another bucket or outside the watched prefix.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_no_recursive_trigger),
    remediation_steps="Point INDEX_BUCKET/INDEX_PREFIX outside every prefix a notification of that bucket watches.",
    url="https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html",
)


def _delivery_constraints(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """The rows of `analysis/constraints.py` about notifications, each citing its AWS page."""
    for row, edge, message in violations(index, "notifications"):
        yield (f"{message} ({row.aws_page})", edge.urn)


aws_delivery_constraints = StackValidationPolicy(
    name="aws-delivery-constraints",
    description="Every delivery hop obeys AWS's documented constraints: S3 notifies only standard queues and "
    "topics, SNS delivers to a FIFO queue only from a FIFO topic, an EventBridge rule on S3 events fires only "
    "for a bucket with EventBridge delivery on. Fix: the destination type or the bucket setting the message names.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_delivery_constraints),
    remediation_steps="Use standard queues and topics as S3 destinations, FIFO topics for FIFO queues, and set "
    "eventbridge=True on the aws.s3.BucketNotification of a bucket an EventBridge rule matches.",
    url=S3_DESTINATIONS_PAGE,
)

NOTIFICATION_POLICIES = [one_notification_per_bucket, no_recursive_trigger, aws_delivery_constraints]
