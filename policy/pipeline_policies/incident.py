"""Rules that reject the configurations behind the incident: duplicate notifications, a visibility
timeout shorter than processing, no dead-letter queue, a consumer that cannot delete, a bucket that
triggers itself, and a dead-letter queue nobody watches."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import schema, setting
from .stack_index import (
    SQS_DEFAULT_RETENTION_SECONDS,
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    Destination,
    index_stack,
    redrive_target,
)
from .values import (
    UNKNOWN,
    as_list,
    as_number,
    elements,
    is_unknown,
    json_document,
    known,
    pattern_matches,
    peek,
    statements,
)

# --- one notification per bucket -------------------------------------------------------------------


def events_overlap(first: list[Any], second: list[Any]) -> bool:
    """Two event lists overlap when any pattern of one matches a pattern of the other (s3:ObjectCreated:*)."""
    for a in first:
        for b in second:
            if is_unknown(a) or is_unknown(b):
                return True
            if pattern_matches(str(a), str(b)) or pattern_matches(str(b), str(a)):
                return True
    return False


def filters_overlap(first: Destination, second: Destination) -> bool:
    """S3's own rule: overlapping when the prefixes nest and the suffixes nest (empty matches all)."""
    prefixes_nest = first.prefix.startswith(second.prefix) or second.prefix.startswith(first.prefix)
    suffixes_nest = first.suffix.endswith(second.suffix) or second.suffix.endswith(first.suffix)
    return prefixes_nest and suffixes_nest and events_overlap(first.events, second.events)


def _check_one_notification_per_bucket(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    by_bucket: dict[str, list[Any]] = {}
    for notification in index.notifications:
        bucket = notification.bucket
        key = str(known(bucket, "bucket")) if not is_unknown(bucket) else notification.resource.urn
        by_bucket.setdefault(key, []).append(notification)
        for position, first in enumerate(notification.destinations):
            for second in notification.destinations[position + 1 :]:
                if filters_overlap(first, second):
                    report_violation(
                        f"bucket {bucket}: two destinations ({first.kind} {first.target} and {second.kind} "
                        f"{second.target}) receive the same events under overlapping filters "
                        f"(prefix {first.prefix!r}/{second.prefix!r}), so every upload is delivered twice. "
                        "Keep one destination per event, or make the prefix/suffix filters disjoint.",
                        notification.resource.urn,
                    )
        if notification.eventbridge and notification.destinations:
            report_violation(
                f"bucket {bucket}: EventBridge delivery is enabled beside {len(notification.destinations)} "
                "direct destination(s), a second path for every event. Remove `eventbridge` or the direct one.",
                notification.resource.urn,
            )
    for bucket, notifications in by_bucket.items():
        for extra in notifications[1:]:
            report_violation(
                f"bucket {bucket} has {len(notifications)} BucketNotification resources; each one replaces the "
                "bucket's whole notification configuration, and together they fight or duplicate events. "
                "Declare all destinations in a single aws.s3.BucketNotification.",
                extra.resource.urn,
            )


one_notification_per_bucket = StackValidationPolicy(
    name="one-notification-per-bucket",
    description="A bucket has exactly one BucketNotification, and no two of its destinations get the same "
    "event for overlapping prefix/suffix filters (the duplicate-notification incident). Fix: declare every "
    "destination in one aws.s3.BucketNotification, with disjoint filters.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_one_notification_per_bucket,
)

# --- visibility covers processing ------------------------------------------------------------------

VISIBILITY_SCHEMA = schema(
    maxProcessingSeconds={
        "type": "integer",
        "minimum": 1,
        "default": 900,
        "description": "The longest a worker may process one message; every work queue's visibility covers it.",
    }
)


def _check_visibility_covers_processing(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    max_processing = as_number(setting(args, VISIBILITY_SCHEMA, "maxProcessingSeconds"))
    queues_by_url = {queue.url: queue for queue in index.work_queues if isinstance(queue.url, str)}
    for queue in index.work_queues:
        visibility = as_number(known(queue.prop("visibilityTimeoutSeconds"), "visibilityTimeoutSeconds"))
        visibility = SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility is None else visibility
        if max_processing is not None and visibility < max_processing:
            report_violation(
                f"queue {queue.name}: visibilityTimeoutSeconds is {visibility:g}, shorter than the processing "
                f"time ({max_processing:g} s), so files still being processed reappear and are processed again. "
                f"Set visibilityTimeoutSeconds >= {max_processing:g}.",
                queue.resource.urn,
            )
    for worker in index.workers:
        if not worker.environment:
            known(UNKNOWN, "userData")
        queue = queues_by_url.get(worker.environment.get("QUEUE_URL"))
        timeout = as_number(worker.environment.get("PROCESSING_TIMEOUT_SECONDS"))
        if queue is None or timeout is None:
            continue
        visibility = (
            as_number(queue.prop("visibilityTimeoutSeconds")) or SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS
        )
        if visibility < timeout:
            report_violation(
                f"workers of {worker.resource.name} may process a message for {timeout:g} s "
                f"(PROCESSING_TIMEOUT_SECONDS) but queue {queue.name} hides it for only {visibility:g} s. "
                "Take both from the same setting, with visibility >= the processing timeout.",
                worker.resource.urn,
            )


visibility_covers_processing = StackValidationPolicy(
    name="visibility-covers-processing",
    description="Every work queue's visibility timeout is at least maxProcessingSeconds and at least the "
    "processing timeout its workers are given, so no message reappears while it is being processed. Fix: "
    "raise visibilityTimeoutSeconds (both numbers come from one setting in this project).",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=VISIBILITY_SCHEMA,
    validate=_check_visibility_covers_processing,
)

# --- dead-letter queue required --------------------------------------------------------------------

DEAD_LETTER_SCHEMA = schema(
    minMaxReceiveCount={
        "type": "integer",
        "minimum": 1,
        "default": 2,
        "description": "Smallest allowed maxReceiveCount (1 can dead-letter a message that was never processed).",
    },
    maxMaxReceiveCount={
        "type": "integer",
        "maximum": 1000,
        "default": 10,
        "description": "Largest allowed maxReceiveCount (a poison file is retried at most this often).",
    },
)


def _check_dead_letter_queue(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    low = as_number(setting(args, DEAD_LETTER_SCHEMA, "minMaxReceiveCount"))
    high = as_number(setting(args, DEAD_LETTER_SCHEMA, "maxMaxReceiveCount"))
    for queue in index.work_queues:
        urn = queue.resource.urn
        if queue.redrive_policy is None:
            report_violation(
                f"queue {queue.name} has no redrive policy, so a message that always fails loops forever. "
                "Add a dead-letter queue: an aws.sqs.RedrivePolicy (or the queue's redrivePolicy) with "
                "deadLetterTargetArn and maxReceiveCount.",
                urn,
            )
            continue
        if is_unknown(queue.redrive_policy):
            continue  # present, not known yet during preview: it counts as present
        document = json_document(queue.redrive_policy, "redrivePolicy")
        target = redrive_target(queue.redrive_policy)
        if target is None:
            report_violation(f"queue {queue.name}: the redrive policy names no deadLetterTargetArn.", urn)
        elif not is_unknown(target) and target not in index.queue_by_arn:
            report_violation(
                f"queue {queue.name}: the dead-letter target {target} is not a queue of this stack; declare the "
                "DLQ here so its retention and alarm are checked too.",
                urn,
            )
        count = peek(document, "maxReceiveCount")
        count_number = as_number(count)
        if not is_unknown(count) and (count_number is None or not low <= count_number <= high):
            report_violation(
                f"queue {queue.name}: maxReceiveCount is {count}; allowed range is {low:g}..{high:g} "
                "(1 dead-letters messages that were only received, never processed).",
                urn,
            )
        dlq = index.queue_by_arn.get(target) if isinstance(target, str) else None
        if dlq is not None:
            source_retention = (
                as_number(queue.prop("messageRetentionSeconds")) or SQS_DEFAULT_RETENTION_SECONDS
            )
            dlq_retention = as_number(dlq.prop("messageRetentionSeconds")) or SQS_DEFAULT_RETENTION_SECONDS
            if not is_unknown(dlq.prop("messageRetentionSeconds")) and dlq_retention <= source_retention:
                report_violation(
                    f"dead-letter queue {dlq.name} keeps messages {dlq_retention:g} s, not longer than its source "
                    f"{queue.name} ({source_retention:g} s); a redriven message keeps its original age and can "
                    "expire unseen. Give the DLQ a longer messageRetentionSeconds (14 days = 1209600).",
                    dlq.resource.urn,
                )


dead_letter_queue_required = StackValidationPolicy(
    name="dead-letter-queue-required",
    description="Every work queue redrives to a dead-letter queue of this stack, with maxReceiveCount in the "
    "configured range, and the DLQ keeps messages longer than its source. Fix: add an aws.sqs.RedrivePolicy "
    "(or redrivePolicy) to a DLQ declared in the stack, with a longer messageRetentionSeconds on the DLQ.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=DEAD_LETTER_SCHEMA,
    validate=_check_dead_letter_queue,
)

# --- the consumer may delete what it receives --------------------------------------------------------

IAM_POLICY_TYPES = {
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
}
REQUIRED_WITH_RECEIVE = ("sqs:DeleteMessage", "sqs:ChangeMessageVisibility")


def _grants(document: Any, action: str, resource: str) -> bool:
    """Whether the document allows `action` on `resource` (an explicit Deny wins)."""
    allowed = False
    for statement in statements(document):
        actions = [str(a) for a in as_list(statement.get("Action"))]
        resources = [str(r) for r in as_list(statement.get("Resource"))]
        if any(pattern_matches(a, action) for a in actions) and any(
            pattern_matches(r, resource) for r in resources
        ):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def missing_delete_permissions(document: Any) -> dict[str, list[str]]:
    """For each resource the document lets a consumer receive from: the actions it may not perform."""
    missing: dict[str, list[str]] = {}
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        if not any(pattern_matches(str(a), "sqs:ReceiveMessage") for a in as_list(statement.get("Action"))):
            continue
        for resource in as_list(statement.get("Resource")):
            lacking = [
                action for action in REQUIRED_WITH_RECEIVE if not _grants(document, action, str(resource))
            ]
            if lacking:
                missing[str(resource)] = lacking
    return missing


def _policy_documents(args: ResourceValidationArgs) -> list[Any]:
    if args.resource_type in IAM_POLICY_TYPES:
        return [json_document(peek(args.props, "policy"), "policy")]
    if args.resource_type == "aws:iam/role:Role":
        return [
            json_document(peek(inline, "policy"), "inlinePolicies", "policy")
            for inline in elements(peek(args.props, "inlinePolicies"))
        ]
    return []


def _check_consumer_can_delete(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for document in _policy_documents(args):
        for resource, lacking in missing_delete_permissions(document).items():
            report_violation(
                f"{args.name} lets a consumer sqs:ReceiveMessage on {resource} but not {', '.join(lacking)}: "
                "it can never delete what it processed, so every message comes back (the incident's loop). "
                f"Grant {', '.join(lacking)} on the same resource."
            )


consumer_can_delete = ResourceValidationPolicy(
    name="consumer-can-delete",
    description="An IAM policy that grants sqs:ReceiveMessage on a queue also grants sqs:DeleteMessage and "
    "sqs:ChangeMessageVisibility on it. Fix: grant all three actions on the same queue.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_consumer_can_delete,
)

# --- no recursive trigger --------------------------------------------------------------------------


def _check_no_recursive_trigger(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    outputs_by_bucket: dict[str, list[tuple[Any, str]]] = {}
    for worker in index.workers:
        output_bucket = worker.environment.get("INDEX_BUCKET")
        if output_bucket:
            outputs_by_bucket.setdefault(output_bucket, []).append(
                (worker, worker.environment.get("INDEX_PREFIX", ""))
            )
    for notification in index.notifications:
        bucket = notification.bucket
        for destination in notification.destinations:
            for worker, output_prefix in outputs_by_bucket.get(str(bucket), []):
                if destination.prefix.startswith(output_prefix) or output_prefix.startswith(
                    destination.prefix
                ):
                    report_violation(
                        f"bucket {bucket}: the notification on prefix {destination.prefix!r} also matches where "
                        f"the workers of {worker.resource.name} write (INDEX_PREFIX {output_prefix!r}), so each "
                        "indexed document triggers another message. Write the index to another bucket or a "
                        "prefix outside the watched one.",
                        notification.resource.urn,
                    )


no_recursive_trigger = StackValidationPolicy(
    name="no-recursive-trigger",
    description="A bucket notification's filter does not match where the workers write their output. Fix: "
    "write the index to another bucket or outside the watched prefix.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_no_recursive_trigger,
)

# --- the dead-letter queue is alarmed --------------------------------------------------------------

DLQ_METRIC = "ApproximateNumberOfMessagesVisible"


def _alarmed_queue_names(alarms: list[Any]) -> set[str]:
    names: set[str] = set()
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


def _check_dlq_alarmed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    alarmed = _alarmed_queue_names(index.alarms)
    for dlq in index.dead_letter_queues:
        if str(dlq.name) not in alarmed and UNKNOWN not in alarmed:
            report_violation(
                f"dead-letter queue {dlq.name} has no CloudWatch alarm on {DLQ_METRIC}: failed files would pile "
                "up unseen. Add an aws.cloudwatch.MetricAlarm (namespace AWS/SQS, QueueName dimension) > 0.",
                dlq.resource.urn,
            )


dlq_is_alarmed = StackValidationPolicy(
    name="dlq-is-alarmed",
    description="Each dead-letter queue has a CloudWatch alarm on ApproximateNumberOfMessagesVisible. Fix: add an "
    "aws.cloudwatch.MetricAlarm on it (namespace AWS/SQS, QueueName dimension, > 0).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_check_dlq_alarmed,
)

INCIDENT_POLICIES = [
    one_notification_per_bucket,
    visibility_covers_processing,
    dead_letter_queue_required,
    consumer_can_delete,
    no_recursive_trigger,
    dlq_is_alarmed,
]
