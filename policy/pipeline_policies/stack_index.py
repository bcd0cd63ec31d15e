"""One pass over a stack's resources that answers the cross-resource questions every rule asks.

Which queues are dead-letter queues, which redrive policy belongs to which queue, which notifications
watch which bucket, what environment the workers get: built once per stack in linear time, so the
stack rules stay linear too (no pairwise scans over the stack).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .values import (
    UNKNOWN,
    decoded_user_data,
    elements,
    environment_assignments,
    is_unknown,
    json_document,
    peek,
)

QUEUE = "aws:sqs/queue:Queue"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"

# SQS's defaults when a queue does not set them (API reference, CreateQueue).
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
SQS_DEFAULT_RETENTION_SECONDS = 345_600
SQS_DEFAULT_RECEIVE_WAIT_SECONDS = 0


@dataclass
class Queue:
    resource: Any
    name: Any
    arn: Any
    url: Any
    redrive_policy: Any = None
    """The queue's redrive policy document (inline or from a RedrivePolicy resource), UNKNOWN, or None."""
    redrive_source_urn: str | None = None
    is_dead_letter_queue: bool = False

    def prop(self, key: str, default: Any = None) -> Any:
        return peek(self.resource.props, key, default)


@dataclass
class Destination:
    """One destination of a bucket notification: a queue, topic or function with its filter."""

    kind: str
    target: Any
    events: list[Any]
    prefix: str
    suffix: str


@dataclass
class Notification:
    resource: Any
    bucket: Any
    destinations: list[Destination]
    eventbridge: bool


@dataclass
class WorkerDeclaration:
    """A launch template or instance whose user data sets the worker's environment (DESIGN contract 2)."""

    resource: Any
    environment: dict[str, str]


@dataclass
class StackIndex:
    queues: list[Queue] = field(default_factory=list)
    queue_by_arn: dict[str, Queue] = field(default_factory=dict)
    buckets: list[Any] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    alarms: list[Any] = field(default_factory=list)
    workers: list[WorkerDeclaration] = field(default_factory=list)
    by_type: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    _attachments: dict[tuple[str, str], dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def work_queues(self) -> list[Queue]:
        return [queue for queue in self.queues if not queue.is_dead_letter_queue]

    @property
    def dead_letter_queues(self) -> list[Queue]:
        return [queue for queue in self.queues if queue.is_dead_letter_queue]

    def attached(self, resource_type: str, names: list[Any], urn: str, key: str = "bucket") -> list[Any]:
        """Resources of `resource_type` whose `key` names one of `names` or depends on `urn`."""
        table = self._attachments.get((resource_type, key))
        if table is None:
            table = self._attachments[(resource_type, key)] = defaultdict(list)
            for resource in self.by_type.get(resource_type, []):
                value = peek(resource.props, key)
                if isinstance(value, str):
                    table[value].append(resource)
                for dependency in _dependencies(resource, key):
                    table[dependency].append(resource)
        found: dict[int, Any] = {}
        for name in [*names, urn]:
            if isinstance(name, str) and not is_unknown(name):
                for resource in table.get(name, []):
                    found[id(resource)] = resource
        return list(found.values())


_CACHE: list[tuple[Any, StackIndex]] = []


def index_stack(resources: list[Any]) -> StackIndex:
    """Build (or reuse, for the same list of resources) the index of a stack."""
    for cached_resources, cached in _CACHE:
        if cached_resources is resources:
            return cached
    index = _build(resources)
    _CACHE[:] = [(resources, index)]
    return index


def _build(resources: list[Any]) -> StackIndex:
    index = StackIndex()
    by_urn = {}
    for resource in resources:
        index.by_type[resource.resource_type].append(resource)
        by_urn[resource.urn] = resource

    queue_by_url: dict[str, Queue] = {}
    queue_by_urn: dict[str, Queue] = {}
    for resource in index.by_type.get(QUEUE, []):
        props = resource.props
        queue = Queue(
            resource=resource, name=peek(props, "name"), arn=peek(props, "arn"), url=peek(props, "url")
        )
        inline = peek(props, "redrivePolicy")
        if inline not in (None, ""):
            queue.redrive_policy = inline
        if peek(props, "redriveAllowPolicy") not in (None, ""):
            queue.is_dead_letter_queue = True
        index.queues.append(queue)
        queue_by_urn[resource.urn] = queue
        for key in (queue.arn, queue.url, peek(props, "id")):
            if isinstance(key, str) and not is_unknown(key):
                if key.startswith("arn:"):
                    index.queue_by_arn[key] = queue
                else:
                    queue_by_url[key] = queue

    def owning_queue(resource: Any) -> Queue | None:
        for dependency in _dependencies(resource, "queueUrl"):
            if dependency in queue_by_urn:
                return queue_by_urn[dependency]
        url = peek(resource.props, "queueUrl")
        return queue_by_url.get(url) if isinstance(url, str) else None

    for resource in index.by_type.get(REDRIVE_POLICY, []):
        queue = owning_queue(resource)
        if queue is not None:
            queue.redrive_policy = peek(resource.props, "redrivePolicy", UNKNOWN)
            queue.redrive_source_urn = resource.urn
    for resource in index.by_type.get(REDRIVE_ALLOW_POLICY, []):
        queue = owning_queue(resource)
        if queue is not None:
            queue.is_dead_letter_queue = True
    for queue in index.queues:
        target = redrive_target(queue.redrive_policy)
        if isinstance(target, str) and target in index.queue_by_arn:
            index.queue_by_arn[target].is_dead_letter_queue = True
        # During preview the target ARN is unknown; the dependency graph still names the DLQ.
        redrive_owner = by_urn.get(queue.redrive_source_urn or "") or queue.resource
        for dependency in _dependencies(redrive_owner, "redrivePolicy"):
            if dependency in queue_by_urn:
                queue_by_urn[dependency].is_dead_letter_queue = True

    index.buckets = index.by_type.get(BUCKET, []) + index.by_type.get(BUCKET_V2, [])
    index.alarms = index.by_type.get(METRIC_ALARM, [])
    for resource in index.by_type.get(BUCKET_NOTIFICATION, []):
        index.notifications.append(_notification(resource))
    for resource in index.by_type.get(LAUNCH_TEMPLATE, []) + index.by_type.get(INSTANCE, []):
        user_data = peek(resource.props, "userData")
        if user_data is None:
            continue
        environment = {} if is_unknown(user_data) else environment_assignments(decoded_user_data(user_data))
        if is_unknown(user_data) or "QUEUE_URL" in environment:
            index.workers.append(WorkerDeclaration(resource=resource, environment=environment))
    return index


def _dependencies(resource: Any, key: str) -> list[str]:
    """URNs the resource's `key` property depends on (known even when the value is not)."""
    dependencies = (getattr(resource, "property_dependencies", {}) or {}).get(key, [])
    return [getattr(dependency, "urn", dependency) for dependency in dependencies]


def redrive_target(redrive_policy: Any) -> Any:
    """The dead-letter target ARN of a redrive policy: a string, UNKNOWN, or None when there is none."""
    if redrive_policy is None:
        return None
    if is_unknown(redrive_policy):
        return UNKNOWN
    document = json_document(redrive_policy, "redrivePolicy") or {}
    return peek(document, "deadLetterTargetArn")


def _notification(resource: Any) -> Notification:
    props = resource.props
    destinations = []
    for kind, target_key in (("queue", "queueArn"), ("topic", "topicArn"), ("lambda", "lambdaFunctionArn")):
        plural = {"queue": "queues", "topic": "topics", "lambda": "lambdaFunctions"}[kind]
        for destination in elements(peek(props, plural)):
            if is_unknown(destination):
                destinations.append(Destination(kind, UNKNOWN, [UNKNOWN], "", ""))
                continue
            destinations.append(
                Destination(
                    kind=kind,
                    target=peek(destination, target_key),
                    events=list(elements(peek(destination, "events"))),
                    prefix=peek(destination, "filterPrefix") or "",
                    suffix=peek(destination, "filterSuffix") or "",
                )
            )
    return Notification(
        resource=resource,
        bucket=peek(props, "bucket"),
        destinations=destinations,
        eventbridge=peek(props, "eventbridge") is True,
    )
