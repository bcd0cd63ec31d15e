"""Every way one S3 event can reach one queue: a notification's destination, S3 → SNS → SQS, and
EventBridge (once per matching rule and target, and through an SNS topic target to each of its
subscribed queues: https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html).

S3 refuses a notification configuration whose destinations overlap for the same event type, and a
PutBucketNotificationConfiguration replaces the bucket's whole configuration:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html
With EventBridge enabled, S3 sends every event to the default event bus, where each rule whose
pattern matches delivers it to each of its targets:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rules.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .iam import action_matches
from .model import Destination, Queue, StackIndex, _text
from .values import as_list, is_unknown, json_document, peek

# S3 event types as EventBridge names them (detail-type) and as notifications name them.
DETAIL_TYPES = {
    "Object Created": "s3:ObjectCreated:*",
    "Object Deleted": "s3:ObjectRemoved:*",
    "Object Restore Initiated": "s3:ObjectRestore:Post",
    "Object Restore Completed": "s3:ObjectRestore:Completed",
    "Object Restore Expired": "s3:ObjectRestore:Delete",
    "Object Tags Added": "s3:ObjectTagging:Put",
    "Object Tags Deleted": "s3:ObjectTagging:Delete",
    "Object ACL Updated": "s3:ObjectAcl:Put",
    "Object Storage Class Changed": "s3:LifecycleTransition",
    "Object Access Tier Changed": "s3:IntelligentTiering",
}
ALL_EVENTS = "s3:*"


@dataclass
class Path:
    bucket_key: str
    bucket_label: str
    queue: Queue
    route: str
    kind: str  # "notification" or "eventbridge"
    events: list[Any]
    filters: list[tuple[str, str]]
    """Alternatives of (key prefix, key suffix); an object matching any of them takes this path."""
    urn: str


def events_overlap(first: list[Any], second: list[Any]) -> bool:
    """Two event lists overlap when any pattern of one matches a pattern of the other (s3:ObjectCreated:*)."""
    for a in first:
        for b in second:
            if is_unknown(a) or is_unknown(b):
                return True
            if action_matches(str(a), str(b)) or action_matches(str(b), str(a)):
                return True
    return False


def _nest(prefix_a: str, suffix_a: str, prefix_b: str, suffix_b: str) -> bool:
    """S3's overlap test: one prefix starts the other and one suffix ends the other (empty matches all)."""
    prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return prefixes and suffixes


def filters_overlap(first: Destination, second: Destination) -> bool:
    return _nest(first.prefix, first.suffix, second.prefix, second.suffix) and events_overlap(
        first.events, second.events
    )


def paths_overlap(first: Path, second: Path) -> bool:
    return events_overlap(first.events, second.events) and any(
        _nest(pa, sa, pb, sb) for pa, sa in first.filters for pb, sb in second.filters
    )


@dataclass
class RuleMatch:
    """What an EventBridge rule matches of S3's events: buckets (None = any), event names, key filters."""

    buckets: list[str] | None
    events: list[str]
    filters: list[tuple[str, str]]


def on_default_bus(rule: Any) -> bool:
    """S3 sends its events to the account's default event bus only (EventBridge.html)."""
    bus = peek(rule.props, "eventBusName")
    if _text(bus):
        return bus == "default" or str(bus).endswith(":event-bus/default")
    return not (bus is not None or getattr(rule, "property_dependencies", {}).get("eventBusName"))


def _wildcard_filter(pattern: str) -> tuple[str, str]:
    """An EventBridge `wildcard` key pattern as (prefix, suffix): `*` matches any characters, so the text before
    the first `*` is a prefix every matching key has, and the text after the last one a suffix; without `*` it
    is an exact key. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"""
    if "*" not in pattern:
        return (pattern, pattern)
    return (pattern.split("*", 1)[0], pattern.rsplit("*", 1)[1])


def rule_match(index: StackIndex, rule: Any, any_bus: bool = False) -> RuleMatch | None:
    """The S3 events a rule matches, or None when it matches none (or is off). Only a rule on the default
    bus ever sees them; `any_bus` reads the pattern of a rule on another bus too (to say it never fires)."""
    props = rule.props
    if peek(props, "state") == "DISABLED" or peek(props, "isEnabled") is False:
        return None
    if not any_bus and not on_default_bus(rule):
        return None
    raw = peek(props, "eventPattern")
    if raw in (None, "") or is_unknown(raw):
        return None
    pattern = json_document(raw) or {}
    sources = [str(s) for s in as_list(pattern.get("source"))] if "source" in pattern else ["aws.s3"]
    if "aws.s3" not in sources:
        return None
    if "detail-type" in pattern:
        events = [DETAIL_TYPES[t] for t in as_list(pattern["detail-type"]) if t in DETAIL_TYPES]
        if not events:
            return None
    else:
        events = [ALL_EVENTS]
    detail = pattern.get("detail") if isinstance(pattern.get("detail"), dict) else {}
    bucket_filter = detail.get("bucket") if isinstance(detail.get("bucket"), dict) else {}
    buckets = None
    if "name" in bucket_filter:
        buckets = []
        for name in as_list(bucket_filter["name"]):
            if isinstance(name, str):
                bucket = index.bucket_lookup.get(name)
                buckets.append(bucket.urn if bucket is not None else name)
            else:
                return RuleMatch(None, events, [("", "")])  # prefix/wildcard on names: any bucket
    object_filter = detail.get("object") if isinstance(detail.get("object"), dict) else {}
    filters: list[tuple[str, str]] = []
    for key in as_list(object_filter.get("key")) if "key" in object_filter else []:
        if isinstance(key, str):
            filters.append((key, key))
        elif isinstance(key, dict) and isinstance(key.get("prefix"), str):
            filters.append((key["prefix"], ""))
        elif isinstance(key, dict) and isinstance(key.get("suffix"), str):
            filters.append(("", key["suffix"]))
        elif isinstance(key, dict) and isinstance(key.get("wildcard"), str) and "\\" not in key["wildcard"]:
            filters.append(_wildcard_filter(key["wildcard"]))
        else:
            filters.append(("", ""))  # anything-but, wildcard, ...: may match any key
    return RuleMatch(buckets, events, filters or [("", "")])


def delivery_paths(index: StackIndex) -> dict[tuple[str, int], list[Path]]:
    """Paths grouped by (bucket, queue). Computed once per stack."""
    cached = index.memo.get("paths")
    if cached is not None:
        return cached
    grouped: dict[tuple[str, int], list[Path]] = {}

    def add(path: Path) -> None:
        grouped.setdefault((path.bucket_key, id(path.queue)), []).append(path)

    eventbridge_buckets: dict[str, str] = {}
    for notification in index.notifications:
        label = str(notification.bucket) if _text(notification.bucket) else notification.resource.name
        if notification.eventbridge:
            eventbridge_buckets[notification.bucket_key] = label
        for destination in notification.destinations:
            filters = [(destination.prefix, destination.suffix)]
            targets: list[tuple[Queue, str]] = []
            if destination.kind == "queue" and destination.resolved is not None:
                targets.append((destination.resolved, f"notification {notification.resource.name}"))
            elif destination.kind == "topic" and destination.resolved is not None:
                topic_name = destination.resolved.resource.name
                targets += [
                    (queue, f"notification {notification.resource.name} → SNS topic {topic_name}")
                    for queue in destination.resolved.subscribers
                ]
            for queue, route in targets:
                add(
                    Path(
                        notification.bucket_key,
                        label,
                        queue,
                        route,
                        "notification",
                        destination.events,
                        filters,
                        notification.resource.urn,
                    )
                )
    matches = []
    for rule in index.event_rules:
        match = rule_match(index, rule)
        if match is None:
            continue
        matches.append((rule, match))
        for bucket_key, label in eventbridge_buckets.items():
            if match.buckets is not None and bucket_key not in match.buckets:
                continue
            for target in index.event_targets.get(id(rule), []):
                target_arn = peek(target.props, "arn")
                queue = index.queue_lookup.find(target, "arn", target_arn)
                routes = [(queue, f"EventBridge rule {rule.name} (target {target.name})")] if queue else []
                topic = index.topics.find(target, "arn", target_arn) if queue is None else None
                if topic is not None:
                    # A topic target fans out again: SNS delivers to every subscribed queue.
                    routes += [
                        (subscriber, f"EventBridge rule {rule.name} → SNS topic {topic.resource.name}")
                        for subscriber in topic.subscribers
                    ]
                for queue, route in routes:
                    add(
                        Path(
                            bucket_key,
                            label,
                            queue,
                            route,
                            "eventbridge",
                            match.events,
                            match.filters,
                            rule.urn,
                        )
                    )
    index.memo["paths"] = grouped
    index.memo["rule_matches"] = matches
    return grouped


def rules_matching_bucket(index: StackIndex, bucket_key: str) -> list[Any]:
    delivery_paths(index)
    return [
        rule
        for rule, match in index.memo["rule_matches"]
        if match.buckets is None or bucket_key in match.buckets
    ]
