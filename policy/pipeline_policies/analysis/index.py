"""One pass over a stack's resources that answers the cross-resource questions every rule asks.

Which queue is a dead-letter queue (the target of a redrive policy), what feeds each queue (bucket
notifications, SNS subscriptions, EventBridge rules), who consumes it (workers whose user data names
it, Lambda event source mappings, roles allowed to receive from it), which policies make up each
role: built once per stack in linear time, so the stack rules stay linear too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from .access import access_table
from .iam import aws_managed_statements, parse_statements
from .model import (
    Destination,
    LambdaConsumer,
    Lookup,
    Notification,
    Queue,
    Resource,
    Role,
    StackIndex,
    Topic,
    WorkerDeclaration,
    _dependencies,
    _text,
    _unwrapped,
)
from .types import (
    BUCKET,
    BUCKET_NOTIFICATION,
    BUCKET_V2,
    COMPOSITE_ALARM,
    EVENT_RULE,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    FUNCTION_EVENT_INVOKE_CONFIG,
    GROUP_POLICY,
    INSTANCE,
    INSTANCE_PROFILE,
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    LAMBDA_FUNCTION,
    LAUNCH_CONFIGURATION,
    LAUNCH_TEMPLATE,
    MANAGED_POLICY,
    METRIC_ALARM,
    POLICY_ATTACHMENT,
    QUEUE,
    QUEUE_POLICY,
    REDRIVE_ALLOW_POLICY,
    REDRIVE_POLICY,
    ROLE,
    ROLE_POLICY,
    ROLE_POLICY_ATTACHMENT,
    TOPIC,
    TOPIC_SUBSCRIPTION,
    USER_POLICY,
)
from .values import (
    UNKNOWN,
    as_number,
    decoded_user_data,
    elements,
    environment_assignments,
    is_unknown,
    json_document,
    peek,
    statements,
)

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
    access_table(index)
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
        if peek(props, "redriveAllowPolicy") not in (None, ""):
            queue.redrive_allow.append(peek(props, "redriveAllowPolicy"))
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
        queue.access_policy_unknown = is_unknown(queue.prop("policy"))
    for resource in index.by_type.get(QUEUE_POLICY, []):
        queue = index.queue_lookup.find(resource, "queueUrl", peek(resource.props, "queueUrl"))
        if queue is not None:
            queue.access_policy += _access_policy(peek(resource.props, "policy"))
            queue.access_policy_unknown |= is_unknown(peek(resource.props, "policy"))
    for resource in index.by_type.get(REDRIVE_ALLOW_POLICY, []):
        queue = index.queue_lookup.find(resource, "queueUrl", peek(resource.props, "queueUrl"))
        if queue is not None:
            queue.allows_redrive = queue.allows_redrive or _allows_redrive(
                peek(resource.props, "redriveAllowPolicy", UNKNOWN)
            )
            queue.redrive_allow.append(peek(resource.props, "redriveAllowPolicy", UNKNOWN))
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
            queue=queue,
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
