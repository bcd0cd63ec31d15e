"""The stack's delivery graph: every hop an upload, a message or an alarm takes, and who performs it.

Nodes are buckets, SNS topics, EventBridge rules, queues and alarms; each edge is one delivery and names the
service principal that performs it (S3 sends to a queue or topic, SNS to its subscribed queues, EventBridge
to a rule's targets, CloudWatch to an alarm's topics, SQS redrives to a dead-letter queue). Each delivery
hop must be authorised at its destination (`authorisation.py`) and obey AWS's constraints
(`constraints.py`); both are evaluated per edge, so a rule never follows a path by hand.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .delivery import rule_match
from .model import Queue, StackIndex, Topic, _text
from .types import REDRIVE_POLICY, TOPIC_SUBSCRIPTION
from .values import elements, is_unknown, peek

S3 = "s3.amazonaws.com"
SNS = "sns.amazonaws.com"
EVENTS = "events.amazonaws.com"
CLOUDWATCH = "cloudwatch.amazonaws.com"
SQS = "sqs.amazonaws.com"
SEND_MESSAGE = "sqs:SendMessage"
PUBLISH = "sns:Publish"
ALARM_ACTION_KEYS = ("alarmActions", "okActions", "insufficientDataActions")


@dataclass(frozen=True)
class Node:
    kind: str
    """bucket, topic, rule, queue or alarm."""
    label: str
    resource: Any
    """The stack resource (None for a bucket the stack only names)."""
    arn: str | None
    model: Any = None
    """The index's record of it (a Queue, a Topic), when it has one."""


@dataclass(frozen=True)
class Edge:
    source: Node
    target: Node
    service: str
    """The service principal that performs the hop (s3.amazonaws.com, ...)."""
    action: str
    """What it calls on the destination (sqs:SendMessage, sns:Publish, or "redrive")."""
    via: Any
    """The resource that declares the hop (a notification, subscription, rule target, alarm, redrive)."""

    @property
    def urn(self) -> str:
        return self.via.urn

    def describe(self) -> str:
        return f"{self.source.kind} {self.source.label} → {self.target.kind} {self.target.label}"


@dataclass
class DeliveryGraph:
    edges: list[Edge] = field(default_factory=list)
    elsewhere: list[tuple[Node, str, str, Any]] = field(default_factory=list)
    """Hops into a destination this stack does not declare: (source, destination ARN, service, via)."""

    def delivering(self) -> list[Edge]:
        """The hops a service performs into a destination (everything but redrives)."""
        return [edge for edge in self.edges if edge.action != "redrive"]

    def redrives(self) -> list[Edge]:
        return [edge for edge in self.edges if edge.action == "redrive"]


def _queue_node(queue: Queue) -> Node:
    return Node("queue", queue.label, queue.resource, _text(queue.arn), queue)


def _topic_node(topic: Topic) -> Node:
    return Node("topic", topic.resource.name, topic.resource, _text(peek(topic.resource.props, "arn")), topic)


def _bucket_node(index: StackIndex, notification_or_rule: Any, key: str, value: Any) -> Node:
    bucket = index.bucket_lookup.find(notification_or_rule, key, value)
    if bucket is not None:
        name = peek(bucket.props, "bucket")
        label = str(name) if _text(name) else bucket.name
        return Node("bucket", label, bucket, _text(peek(bucket.props, "arn")) or f"arn:aws:s3:::{label}")
    label = str(value) if _text(value) else "a bucket"
    return Node("bucket", label, None, f"arn:aws:s3:::{value}" if _text(value) else None)


def delivery_graph(index: StackIndex) -> DeliveryGraph:
    """Built once per stack, in one pass over what the index already resolved."""
    cached = index.memo.get("graph")
    if cached is not None:
        return cached
    graph = DeliveryGraph()
    for notification in index.notifications:
        bucket = _bucket_node(index, notification.resource, "bucket", notification.bucket)
        for destination in notification.destinations:
            if destination.kind == "queue" and isinstance(destination.resolved, Queue):
                target, action = _queue_node(destination.resolved), SEND_MESSAGE
            elif destination.kind == "topic" and isinstance(destination.resolved, Topic):
                target, action = _topic_node(destination.resolved), PUBLISH
            else:
                if destination.kind in ("queue", "topic") and _text(destination.target):
                    graph.elsewhere.append((bucket, str(destination.target), S3, notification.resource))
                continue
            graph.edges.append(Edge(bucket, target, S3, action, notification.resource))
    for subscription in index.by_type.get(TOPIC_SUBSCRIPTION, []):
        props = subscription.props
        if peek(props, "protocol") != "sqs":
            continue
        topic = index.topics.find(subscription, "topic", peek(props, "topic"))
        queue = index.queue_lookup.find(subscription, "endpoint", peek(props, "endpoint"))
        if topic is not None and queue is not None:
            graph.edges.append(Edge(_topic_node(topic), _queue_node(queue), SNS, SEND_MESSAGE, subscription))
        elif topic is not None and _text(peek(props, "endpoint")):
            graph.elsewhere.append((_topic_node(topic), str(peek(props, "endpoint")), SNS, subscription))
    for rule in index.event_rules:
        if rule_match(index, rule, any_bus=True) is None:
            continue
        source = Node("rule", rule.name, rule, _text(peek(rule.props, "arn")))
        for target in index.event_targets.get(id(rule), []):
            arn = peek(target.props, "arn")
            queue = index.queue_lookup.find(target, "arn", arn)
            if queue is not None:
                graph.edges.append(Edge(source, _queue_node(queue), EVENTS, SEND_MESSAGE, target))
                continue
            topic = index.topics.find(target, "arn", arn)
            if topic is not None:
                graph.edges.append(Edge(source, _topic_node(topic), EVENTS, PUBLISH, target))
            elif _text(arn) and (":sqs:" in str(arn) or ":sns:" in str(arn)):
                graph.elsewhere.append((source, str(arn), EVENTS, target))
    for alarm in [*index.alarms, *index.composite_alarms]:
        source = Node("alarm", alarm.name, alarm, _text(peek(alarm.props, "arn")))
        seen: set[int] = set()
        for key in ALARM_ACTION_KEYS:
            for action in elements(peek(alarm.props, key)):
                topic = index.topics.get(action) if _text(action) else None
                if topic is None and (is_unknown(action) or not _text(action)):
                    topic = index.topics.find(alarm, key)
                if topic is not None and id(topic) not in seen:
                    seen.add(id(topic))
                    graph.edges.append(Edge(source, _topic_node(topic), CLOUDWATCH, PUBLISH, alarm))
    redrive_resources = {resource.urn: resource for resource in index.by_type.get(REDRIVE_POLICY, [])}
    for queue in index.queues:
        if queue.redrive_target is not None:
            owner = redrive_resources.get(queue.redrive_source_urn or "", queue.resource)
            graph.edges.append(
                Edge(_queue_node(queue), _queue_node(queue.redrive_target), SQS, "redrive", owner)
            )
    index.memo["graph"] = graph
    return graph
