"""The stack's model: the queues, notifications, consumers and principals the index finds, as plain records.

Resources are matched the way programs reference them: by the dependency the engine records for a
property (an Output passed in), or by the literal value (a name, id, ARN or URL typed as a string).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .iam import Permissions
from .values import _target, is_unknown, peek


def _unwrapped(props: Any) -> Any:
    if is_unknown(props):
        return props
    return _target(props)


def _dependencies(resource: Any, key: str) -> list[str]:
    """URNs the resource's `key` property depends on (known even when the value is not)."""
    dependencies = (getattr(resource, "property_dependencies", {}) or {}).get(key, [])
    return [getattr(dependency, "urn", dependency) for dependency in dependencies]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


class Lookup:
    """Resources of some types, found by URN or by any of their identifying property values."""

    def __init__(self) -> None:
        self.by_key: dict[str, Any] = {}

    def add(self, item: Any, urn: str, *identifiers: Any) -> None:
        self.by_key[urn] = item
        for identifier in identifiers:
            text = _text(identifier)
            if text is not None:
                self.by_key.setdefault(text, item)

    def find(self, resource: Any, key: str, value: Any = None) -> Any:
        """What `resource.key` references: by its literal value, else by a unique dependency."""
        text = _text(value)
        if text is not None and text in self.by_key:
            return self.by_key[text]
        found = {
            id(self.by_key[urn]): self.by_key[urn]
            for urn in _dependencies(resource, key)
            if urn in self.by_key
        }
        return next(iter(found.values())) if len(found) == 1 else None

    def get(self, value: Any) -> Any:
        text = _text(value)
        return self.by_key.get(text) if text is not None else None


@dataclass
class Queue:
    resource: Any
    name: Any
    arn: Any
    url: Any
    redrive_policy: Any = None
    """The queue's redrive policy document (inline or from a RedrivePolicy resource), UNKNOWN, or None."""
    redrive_source_urn: str | None = None
    redrive_target: Queue | None = None
    redrive_sources: list[Queue] = field(default_factory=list)
    allows_redrive: bool = False
    """A redrive allow policy (inline or resource) lets some source use this queue as its DLQ."""
    redrive_allow: list[Any] = field(default_factory=list)
    """Its redrive allow policy documents as declared (inline, aws.sqs.RedriveAllowPolicy): raw values."""
    feeds: list[str] = field(default_factory=list)
    """What delivers messages into the queue (notifications, subscriptions, rules), as readable labels."""
    workers: list[WorkerDeclaration] = field(default_factory=list)
    lambda_consumers: list[LambdaConsumer] = field(default_factory=list)
    receivable: bool = False
    """Some principal of the stack is allowed sqs:ReceiveMessage on it (set by the consumer analysis)."""
    access_policy: list[Any] = field(default_factory=list)
    """Statements of its resource-based policy (the queue's `policy` or a QueuePolicy resource)."""
    access_policy_unknown: bool = False
    """Some part of its resource-based policy is not known yet (preview)."""
    failure_destination_of: list[LambdaConsumer] = field(default_factory=list)
    """Lambda consumers whose on-failure destination it is: meant as their dead-letter queue."""

    def prop(self, key: str, default: Any = None) -> Any:
        return peek(self.resource.props, key, default)

    @property
    def label(self) -> str:
        return str(self.name if _text(self.name) else self.resource.name)

    @property
    def fifo(self) -> bool:
        return self.prop("fifoQueue") is True or str(self.name).endswith(".fifo")

    @property
    def is_dead_letter_queue(self) -> bool:
        """A DLQ is what a redrive policy points at (or offers itself as one), unless work flows into it."""
        declared = bool(self.redrive_sources or self.failure_destination_of) or self.allows_redrive
        return declared and not self.fed_as_work_queue

    @property
    def fed_as_work_queue(self) -> bool:
        return bool(self.feeds or self.workers or self.lambda_consumers)


@dataclass
class Destination:
    """One destination of a bucket notification: a queue, topic or function with its filter."""

    kind: str
    target: Any
    events: list[Any]
    prefix: str
    suffix: str
    resolved: Any = None


@dataclass
class Notification:
    resource: Any
    bucket: Any
    bucket_key: str
    destinations: list[Destination]
    eventbridge: bool


@dataclass
class WorkerDeclaration:
    """A launch template or instance whose user data sets a worker's environment (QUEUE_URL, ...)."""

    resource: Any
    environment: dict[str, str]
    role: Role | None = None
    user_data_unknown: bool = False


@dataclass
class LambdaConsumer:
    mapping: Any
    function: Any
    timeout_seconds: float
    role: Role | None = None
    queue: Any = None
    """The Queue it consumes."""
    on_failure: list[Any] = field(default_factory=list)
    """On-failure destinations (the mapping's, the function's asynchronous one): a Queue, or the ARN as given."""


@dataclass
class Role:
    """A principal: a role of the stack, a role named by an attachment only, or a lone policy document."""

    label: str
    resource: Any
    permissions: Permissions = field(default_factory=Permissions)
    declared: bool = True
    workers: list[WorkerDeclaration] = field(default_factory=list)
    lambda_functions: list[Any] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)
    """Resources whose documents make up the permissions (policies, attachments, the role)."""


@dataclass
class Topic:
    resource: Any
    subscribers: list[Queue] = field(default_factory=list)


@dataclass
class StackIndex:
    queues: list[Queue] = field(default_factory=list)
    queue_lookup: Lookup = field(default_factory=Lookup)
    bucket_lookup: Lookup = field(default_factory=Lookup)
    buckets: list[Any] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    alarms: list[Any] = field(default_factory=list)
    composite_alarms: list[Any] = field(default_factory=list)
    """Composite alarms: no metric of their own, but they publish to SNS like metric alarms."""
    workers: list[WorkerDeclaration] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    topics: Lookup = field(default_factory=Lookup)
    lambda_consumers: list[LambdaConsumer] = field(default_factory=list)
    outside_queue_mappings: list[Any] = field(default_factory=list)
    """Event source mappings on an SQS queue this stack does not declare (read by id, another stack's)."""
    event_rules: list[Any] = field(default_factory=list)
    event_targets: dict[int, list[Any]] = field(default_factory=dict)
    by_type: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    memo: dict[str, Any] = field(default_factory=dict)
    queue_by_arn_cache: dict[str, Queue] = field(default_factory=dict)
    _attachments: dict[tuple[str, str], dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def queue_by_arn(self) -> dict[str, Queue]:
        return {queue.arn: queue for queue in self.queues if _text(queue.arn)}

    @property
    def work_queues(self) -> list[Queue]:
        """Queues that receive work: fed by events or consumed, and not only a redrive target."""
        return [
            q for q in self.queues if not q.is_dead_letter_queue and (q.fed_as_work_queue or q.receivable)
        ]

    @property
    def idle_queues(self) -> list[Queue]:
        """Queues neither fed, consumed nor redriven to in this stack (their role is decided elsewhere)."""
        return [
            q for q in self.queues if not q.is_dead_letter_queue and not (q.fed_as_work_queue or q.receivable)
        ]

    @property
    def dead_letter_queues(self) -> list[Queue]:
        return [queue for queue in self.queues if queue.is_dead_letter_queue]

    def bucket_key(self, resource: Any, key: str, value: Any) -> str:
        """A bucket's identity as referenced: its URN when it is in the stack, else the literal name."""
        bucket = self.bucket_lookup.find(resource, key, value)
        if bucket is not None:
            return bucket.urn
        return str(value) if _text(value) else f"{resource.urn}#{key}"

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


@dataclass(frozen=True, slots=True)
class Resource:
    """A stack resource with its properties unwrapped once from the engine's unknown-checking proxy.

    Unknown values stay the SDK's sentinels, which `peek`, `known` and `is_unknown` recognise; reading
    the plain dict avoids a proxy lookup per property (the index reads every resource).
    """

    resource_type: str
    name: str
    urn: str
    props: Any
    property_dependencies: Any
