"""One pass over a stack's resources that answers the cross-resource questions every rule asks.

Which queue is a dead-letter queue (the target of a redrive policy), what feeds each queue (bucket
notifications, SNS subscriptions, EventBridge rules), who consumes it (workers whose user data names
it, Lambda event source mappings, roles allowed to receive from it), which policies make up each
role: built once per stack in linear time, so the stack rules stay linear too.

Resources are matched the way programs reference them: by the dependency the engine records for a
property (an Output passed in), or by the literal value (a name, id, ARN or URL typed as a string).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .iam import Permissions, aws_managed_statements
from .values import (
    UNKNOWN,
    _target,
    as_number,
    decoded_user_data,
    elements,
    environment_assignments,
    is_unknown,
    json_document,
    peek,
    statements,
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
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
TOPIC = "aws:sns/topic:Topic"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION_EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
MANAGED_POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"

# SQS's defaults when a queue does not set them (API reference, CreateQueue).
SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30
SQS_DEFAULT_RETENTION_SECONDS = 345_600
SQS_MAX_RETENTION_SECONDS = 1_209_600
SQS_DEFAULT_RECEIVE_WAIT_SECONDS = 0
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
_FUNCTION_REFERENCE = re.compile(
    r"^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?function:(?P<name>[A-Za-z0-9_-]+)(?::[A-Za-z0-9$_-]+)?$"
    r"|^(?P<plain>[A-Za-z0-9_-]+):[A-Za-z0-9$_-]+$"
)
"""The forms an event source mapping's FunctionName takes besides the name and the ARN: a version or
alias ARN (`...:function:NAME:live`), a partial ARN (`123456789012:function:NAME`), `NAME:QUALIFIER`
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html)."""
_QUEUE_REFERENCE = re.compile(
    r"(https://sqs\.[A-Za-z0-9.-]+/\d{12}/[A-Za-z0-9_.-]+|arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+)"
)


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
    feeds: list[str] = field(default_factory=list)
    """What delivers messages into the queue (notifications, subscriptions, rules), as readable labels."""
    workers: list[WorkerDeclaration] = field(default_factory=list)
    lambda_consumers: list[LambdaConsumer] = field(default_factory=list)
    receivable: bool = False
    """Some principal of the stack is allowed sqs:ReceiveMessage on it (set by the consumer analysis)."""
    access_policy: list[Any] = field(default_factory=list)
    """Statements of its resource-based policy (the queue's `policy` or a QueuePolicy resource)."""
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
        self._analyse_consumers()
        return [
            q for q in self.queues if not q.is_dead_letter_queue and (q.fed_as_work_queue or q.receivable)
        ]

    @property
    def idle_queues(self) -> list[Queue]:
        """Queues neither fed, consumed nor redriven to in this stack (their role is decided elsewhere)."""
        self._analyse_consumers()
        return [
            q for q in self.queues if not q.is_dead_letter_queue and not (q.fed_as_work_queue or q.receivable)
        ]

    def _analyse_consumers(self) -> None:
        from .consumers import access_table

        access_table(self)

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


_CACHE: list[tuple[Any, StackIndex]] = []


def index_stack(resources: list[Any]) -> StackIndex:
    """Build (or reuse, for the same list of resources) the index of a stack."""
    for cached_resources, cached in _CACHE:
        if cached_resources is resources:
            return cached
    index = _build(resources)
    _CACHE[:] = [(resources, index)]
    return index


def redrive_target(redrive_policy: Any) -> Any:
    """The dead-letter target ARN of a redrive policy: a string, UNKNOWN, or None when there is none."""
    if redrive_policy is None:
        return None
    if is_unknown(redrive_policy):
        return UNKNOWN
    document = json_document(redrive_policy, "redrivePolicy") or {}
    return peek(document, "deadLetterTargetArn")


def _allows_redrive(value: Any) -> bool:
    if value in (None, ""):
        return False
    if is_unknown(value):
        return True
    document = json_document(value) or {}
    return peek(document, "redrivePermission") != "denyAll"


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


def _build(resources: list[Any]) -> StackIndex:
    index = StackIndex()
    for policy_resource in resources:
        resource = Resource(
            policy_resource.resource_type,
            policy_resource.name,
            policy_resource.urn,
            _unwrapped(policy_resource.props),
            getattr(policy_resource, "property_dependencies", {}) or {},
        )
        index.by_type[resource.resource_type].append(resource)
    _index_queues(index)
    _index_buckets(index)
    _index_topics(index)
    _index_event_rules(index)
    _index_roles(index)
    _index_consumers(index)
    index.alarms = index.by_type.get(METRIC_ALARM, [])
    index.composite_alarms = index.by_type.get(COMPOSITE_ALARM, [])
    return index


def _index_queues(index: StackIndex) -> None:
    for resource in index.by_type.get(QUEUE, []):
        props = resource.props
        queue = Queue(
            resource=resource, name=peek(props, "name"), arn=peek(props, "arn"), url=peek(props, "url")
        )
        inline = peek(props, "redrivePolicy")
        if inline not in (None, ""):
            queue.redrive_policy = inline
            queue.redrive_source_urn = resource.urn
        queue.allows_redrive = _allows_redrive(peek(props, "redriveAllowPolicy"))
        index.queues.append(queue)
        index.queue_lookup.add(queue, resource.urn, queue.arn, queue.url, queue.name, peek(props, "id"))

    by_urn = {resource.urn: resource for resource in index.by_type.get(REDRIVE_POLICY, [])}
    for resource in index.by_type.get(REDRIVE_POLICY, []):
        queue = index.queue_lookup.find(resource, "queueUrl", peek(resource.props, "queueUrl"))
        if queue is not None:
            queue.redrive_policy = peek(resource.props, "redrivePolicy", UNKNOWN)
            queue.redrive_source_urn = resource.urn
    for queue in index.queues:
        queue.access_policy = _access_policy(queue.prop("policy"))
    for resource in index.by_type.get(QUEUE_POLICY, []):
        queue = index.queue_lookup.find(resource, "queueUrl", peek(resource.props, "queueUrl"))
        if queue is not None:
            queue.access_policy += _access_policy(peek(resource.props, "policy"))
    for resource in index.by_type.get(REDRIVE_ALLOW_POLICY, []):
        queue = index.queue_lookup.find(resource, "queueUrl", peek(resource.props, "queueUrl"))
        if queue is not None:
            queue.allows_redrive = queue.allows_redrive or _allows_redrive(
                peek(resource.props, "redriveAllowPolicy", UNKNOWN)
            )
    for queue in index.queues:
        if queue.redrive_policy is None:
            continue
        target = redrive_target(queue.redrive_policy)
        dlq = index.queue_lookup.get(target) if isinstance(target, str) else None
        if dlq is None and not isinstance(target, str):
            # During preview the target ARN is unknown; the dependency graph still names the DLQ.
            owner = by_urn.get(queue.redrive_source_urn or "") or queue.resource
            candidates = [
                index.queue_lookup.by_key[urn]
                for urn in _dependencies(owner, "redrivePolicy")
                if urn in index.queue_lookup.by_key and index.queue_lookup.by_key[urn] is not queue
            ]
            dlq = candidates[0] if len(candidates) == 1 else None
        if dlq is not None:
            queue.redrive_target = dlq
            dlq.redrive_sources.append(queue)


def _access_policy(value: Any) -> list[Any]:
    """A queue policy's statements; none while it is unknown (preview) or not a document."""
    if value in (None, "") or is_unknown(value):
        return []
    return statements(json_document(value) or {})


def _index_buckets(index: StackIndex) -> None:
    index.buckets = index.by_type.get(BUCKET, []) + index.by_type.get(BUCKET_V2, [])
    for bucket in index.buckets:
        props = bucket.props
        index.bucket_lookup.add(
            bucket, bucket.urn, peek(props, "bucket"), peek(props, "id"), peek(props, "arn")
        )


def _index_topics(index: StackIndex) -> None:
    for resource in index.by_type.get(TOPIC, []):
        index.topics.add(
            Topic(resource), resource.urn, peek(resource.props, "arn"), peek(resource.props, "id")
        )
    for subscription in index.by_type.get(TOPIC_SUBSCRIPTION, []):
        props = subscription.props
        if peek(props, "protocol") != "sqs":
            continue
        topic = index.topics.find(subscription, "topic", peek(props, "topic"))
        queue = index.queue_lookup.find(subscription, "endpoint", peek(props, "endpoint"))
        if topic is not None and queue is not None:
            topic.subscribers.append(queue)
            queue.feeds.append(f"SNS topic {topic.resource.name}")
        elif queue is not None:
            queue.feeds.append(f"SNS subscription {subscription.name}")

    for resource in index.by_type.get(BUCKET_NOTIFICATION, []):
        notification = _notification(index, resource)
        index.notifications.append(notification)
        for destination in notification.destinations:
            if destination.kind == "queue":
                destination.resolved = index.queue_lookup.find(resource, "queues", destination.target)
                if destination.resolved is not None:
                    destination.resolved.feeds.append(f"bucket notification {resource.name}")
            elif destination.kind == "topic":
                destination.resolved = index.topics.find(resource, "topics", destination.target)


def _notification(index: StackIndex, resource: Any) -> Notification:
    props = resource.props
    destinations = []
    for kind, target_key, plural in (
        ("queue", "queueArn", "queues"),
        ("topic", "topicArn", "topics"),
        ("lambda", "lambdaFunctionArn", "lambdaFunctions"),
    ):
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
    bucket = peek(props, "bucket")
    return Notification(
        resource=resource,
        bucket=bucket,
        bucket_key=index.bucket_key(resource, "bucket", bucket),
        destinations=destinations,
        eventbridge=peek(props, "eventbridge") is True,
    )


def _index_event_rules(index: StackIndex) -> None:
    rules = Lookup()
    for rule in index.by_type.get(EVENT_RULE, []):
        index.event_rules.append(rule)
        index.event_targets[id(rule)] = []
        rules.add(rule, rule.urn, peek(rule.props, "name"), peek(rule.props, "id"), peek(rule.props, "arn"))
    for target in index.by_type.get(EVENT_TARGET, []):
        rule = rules.find(target, "rule", peek(target.props, "rule"))
        if rule is None:
            continue
        index.event_targets[id(rule)].append(target)
        queue = index.queue_lookup.find(target, "arn", peek(target.props, "arn"))
        if queue is not None:
            queue.feeds.append(f"EventBridge rule {rule.name}")


def _policy_document(resource: Any, key: str = "policy") -> Any:
    """The parsed document under `key` of a resource (or of a plain props mapping, e.g. an inline policy)."""
    value = peek(getattr(resource, "props", resource), key)
    if value in (None, "") or is_unknown(value):
        return value
    return json_document(value, key)


def _index_roles(index: StackIndex) -> None:
    """Every principal with the documents that make up its permissions."""
    roles = Lookup()
    managed = Lookup()
    for resource in index.by_type.get(MANAGED_POLICY, []):
        managed.add(resource, resource.urn, peek(resource.props, "arn"), peek(resource.props, "id"))
    attached_policies: set[int] = set()

    def role_named(resource: Any, key: str, value: Any) -> Role | None:
        role = roles.find(resource, key, value)
        if role is None and _text(value):
            role = Role(label=str(value), resource=resource, declared=False)
            roles.add(role, f"undeclared:{value}", value)
            index.roles.append(role)
        return role

    def attach(role: Role, source: Any, policy_arn: Any, key: str, boundary: bool = False) -> None:
        policy = managed.find(source, key, policy_arn) if key else managed.get(policy_arn)
        if policy is not None:
            attached_policies.add(id(policy))
            document = _policy_document(policy)
            statements_of = [document] if not is_unknown(document) else None
            role.sources.append(policy)
        elif _text(policy_arn) and aws_managed_statements(str(policy_arn)) is not None:
            statements_of = [aws_managed_statements(str(policy_arn))]
        else:
            statements_of = None
        permissions = role.permissions
        if boundary:
            if statements_of is None:
                permissions.boundary_undecided = True
                permissions.undecided.append(f"permissions boundary {policy_arn}")
            else:
                permissions.boundary = [s for document in statements_of for s in _parsed(document)]
        elif statements_of is None:
            permissions.undecided.append(str(policy_arn if _text(policy_arn) else "an attached policy"))
        else:
            for document in statements_of:
                permissions.add(document)

    for resource in index.by_type.get(ROLE, []):
        props = resource.props
        role = Role(label=str(peek(props, "name") or resource.name), resource=resource)
        role.sources.append(resource)
        roles.add(role, resource.urn, peek(props, "name"), peek(props, "id"), peek(props, "arn"))
        index.roles.append(role)
        for inline in elements(peek(props, "inlinePolicies")):
            document = _policy_document(inline) if not is_unknown(inline) else UNKNOWN
            if is_unknown(document):
                role.permissions.undecided.append("an inline policy not known yet")
            else:
                role.permissions.add(document)
        for arn in elements(peek(props, "managedPolicyArns")):
            attach(role, resource, arn, "")
        boundary = peek(props, "permissionsBoundary")
        if boundary not in (None, ""):
            attach(role, resource, boundary, "permissionsBoundary", boundary=True)

    for resource in index.by_type.get(ROLE_POLICY, []):
        role = role_named(resource, "role", peek(resource.props, "role"))
        if role is None:
            continue
        role.sources.append(resource)
        document = _policy_document(resource)
        if is_unknown(document):
            role.permissions.undecided.append(f"policy {resource.name} (not known yet)")
        elif document:
            role.permissions.add(document)
    for resource in index.by_type.get(ROLE_POLICY_ATTACHMENT, []):
        role = role_named(resource, "role", peek(resource.props, "role"))
        if role is not None:
            role.sources.append(resource)
            attach(role, resource, peek(resource.props, "policyArn"), "policyArn")
    for resource in index.by_type.get(POLICY_ATTACHMENT, []):
        for name in elements(peek(resource.props, "roles")):
            role = role_named(resource, "roles", name)
            if role is not None:
                role.sources.append(resource)
                attach(role, resource, peek(resource.props, "policyArn"), "policyArn")

    # A policy document attached to nothing in the stack (or to users and groups) is judged on its own:
    # whoever it is given to holds at least these permissions.
    for resource in (
        [r for r in index.by_type.get(MANAGED_POLICY, []) if id(r) not in attached_policies]
        + index.by_type.get(USER_POLICY, [])
        + index.by_type.get(GROUP_POLICY, [])
    ):
        lone = Role(label=f"policy {resource.name}", resource=resource, declared=False, sources=[resource])
        document = _policy_document(resource)
        if is_unknown(document):
            lone.permissions.undecided.append(f"policy {resource.name} (not known yet)")
        elif document:
            lone.permissions.add(document)
        index.roles.append(lone)
    index.memo["role_lookup"] = roles


def _parsed(document: Any) -> list[Any]:
    from .iam import parse_statements

    return parse_statements(document)


def _unqualified_function_name(reference: Any) -> str | None:
    """The function name inside a qualified or partial function ARN, or None for any other value."""
    match = _FUNCTION_REFERENCE.match(reference) if _text(reference) else None
    return (match.group("name") or match.group("plain")) if match else None


def _index_consumers(index: StackIndex) -> None:
    roles: Lookup = index.memo["role_lookup"]
    profiles = Lookup()
    for profile in index.by_type.get(INSTANCE_PROFILE, []):
        role = roles.find(profile, "role", peek(profile.props, "role"))
        profiles.add(
            role,
            profile.urn,
            peek(profile.props, "name"),
            peek(profile.props, "arn"),
            peek(profile.props, "id"),
        )

    # Workers: anything that boots EC2 instances with user data (an Auto Scaling group's launch template
    # or legacy launch configuration, a lone instance), plain text or base64 (`userDataBase64`).
    launchers = [LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION, INSTANCE]
    for resource in [resource for kind in launchers for resource in index.by_type.get(kind, [])]:
        user_data = peek(resource.props, "userData")
        if user_data is None:
            user_data = peek(resource.props, "userDataBase64")
        if user_data is None:
            continue
        text = "" if is_unknown(user_data) else decoded_user_data(user_data)
        environment = environment_assignments(text)
        # The queue it consumes: QUEUE_URL (this project's contract), else any queue URL or ARN it names.
        named = [environment["QUEUE_URL"]] if "QUEUE_URL" in environment else _QUEUE_REFERENCE.findall(text)
        queues = [q for q in (index.queue_lookup.get(ref) for ref in named) if q is not None]
        if not (is_unknown(user_data) or "QUEUE_URL" in environment or queues):
            continue
        profile_ref = peek(resource.props, "iamInstanceProfile")
        if isinstance(profile_ref, str) or profile_ref is None:
            role = profiles.find(resource, "iamInstanceProfile", profile_ref)
        else:
            role = profiles.get(peek(profile_ref, "arn")) or profiles.get(peek(profile_ref, "name"))
            role = role or profiles.find(resource, "iamInstanceProfile")
        worker = WorkerDeclaration(
            resource=resource, environment=environment, role=role, user_data_unknown=is_unknown(user_data)
        )
        index.workers.append(worker)
        if role is not None:
            role.workers.append(worker)
        for queue in {id(q): q for q in queues}.values():
            queue.workers.append(worker)

    functions = Lookup()
    for function in index.by_type.get(LAMBDA_FUNCTION, []):
        props = function.props
        functions.add(function, function.urn, peek(props, "name"), peek(props, "arn"), peek(props, "id"))
        role = roles.find(function, "role", peek(props, "role"))
        if role is not None:
            role.lambda_functions.append(function)
    invoke_configs: dict[int, list[Any]] = defaultdict(list)
    for config in index.by_type.get(FUNCTION_EVENT_INVOKE_CONFIG, []):
        target = functions.find(config, "functionName", peek(config.props, "functionName"))
        if target is not None:
            invoke_configs[id(target)].append(config)
    for mapping in index.by_type.get(EVENT_SOURCE_MAPPING, []):
        queue = index.queue_lookup.find(mapping, "eventSourceArn", peek(mapping.props, "eventSourceArn"))
        function_name = peek(mapping.props, "functionName")
        function = functions.find(mapping, "functionName", function_name) or functions.get(
            _unqualified_function_name(function_name)
        )
        source = peek(mapping.props, "eventSourceArn")
        if queue is None and _text(source) and ":sqs:" in str(source):
            index.outside_queue_mappings.append(mapping)
        if queue is None or function is None:
            continue
        timeout = as_number(peek(function.props, "timeout"))
        consumer = LambdaConsumer(
            mapping=mapping,
            function=function,
            timeout_seconds=LAMBDA_DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
            role=roles.find(function, "role", peek(function.props, "role")),
        )
        queue.lambda_consumers.append(consumer)
        index.lambda_consumers.append(consumer)
        destination = peek(
            peek(peek(mapping.props, "destinationConfig") or {}, "onFailure") or {}, "destinationArn"
        )
        _add_failure_destination(index, consumer, mapping, destination)
        for config in invoke_configs.get(id(function), []):
            destination = peek(
                peek(peek(config.props, "destinationConfig") or {}, "onFailure") or {}, "destination"
            )
            _add_failure_destination(index, consumer, config, destination)


def _add_failure_destination(
    index: StackIndex, consumer: LambdaConsumer, resource: Any, destination: Any
) -> None:
    if destination in (None, ""):
        return
    queue = index.queue_lookup.find(resource, "destinationConfig", destination)
    consumer.on_failure.append(queue if queue is not None else destination)
    if queue is not None:
        queue.failure_destination_of.append(consumer)
