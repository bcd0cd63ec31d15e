"""Rules that reject the configurations behind the incident, judged the way AWS behaves: more than one
delivery path per event, a visibility timeout shorter than the consumers' processing, a work queue
without a dead-letter queue, a consumer that cannot delete what it receives, a bucket that triggers
itself, and a dead-letter queue nobody watches."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .alarms import alarm_topic_findings
from .config import schema, setting
from .consumers import access_table, receivers_of
from .delivery import delivery_paths, filters_overlap, paths_overlap, rules_matching_bucket
from .stack_index import (
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    SQS_DEFAULT_RETENTION_SECONDS,
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    SQS_MAX_RETENTION_SECONDS,
    Queue,
    StackIndex,
    index_stack,
    redrive_target,
)
from .values import UNKNOWN, as_number, elements, is_unknown, json_document, known, peek

# --- every delivery path counted once per event -----------------------------------------------------

S3_NOTIFICATION_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"
)


def _check_one_notification_per_bucket(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """S3 rejects overlapping destinations and each notification configuration replaces the last
    (notification-how-to-filtering.html); EventBridge delivers once per matching rule and target
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rules.html)."""
    index = index_stack(args.resources)
    by_bucket: dict[str, list[Any]] = {}
    for notification in index.notifications:
        bucket = notification.bucket
        by_bucket.setdefault(notification.bucket_key, []).append(notification)
        for position, first in enumerate(notification.destinations):
            for second in notification.destinations[position + 1 :]:
                if filters_overlap(first, second):
                    report_violation(
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
            report_violation(
                f"bucket {bucket}: EventBridge delivery is enabled beside {len(notification.destinations)} direct "
                "destination(s), and no EventBridge rule in this stack uses it. S3 then sends every event to the "
                "default event bus as well, where each matching rule (of any stack) delivers it once more: a "
                "second path for every upload. Remove `eventbridge`, or declare here the rule that needs it.",
                notification.resource.urn,
            )
    for notifications in by_bucket.values():
        for extra in notifications[1:]:
            report_violation(
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
                report_violation(
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
    validate=_check_one_notification_per_bucket,
    remediation_steps="Declare every destination of a bucket in one aws.s3.BucketNotification with disjoint "
    "prefix/suffix filters per event type; route each event to a queue either directly, through SNS, or through "
    "one EventBridge rule, never two of these.",
    url=S3_NOTIFICATION_DOC,
)

# --- visibility covers the consumers' processing ---------------------------------------------------

LAMBDA_SQS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"
LAMBDA_VISIBILITY_FACTOR = 6
VISIBILITY_SCHEMA = schema(
    maxProcessingSeconds={
        "type": "integer",
        "minimum": 0,
        "maximum": 43200,
        "default": 900,
        "description": "The longest a consumer the pack cannot see (a role allowed to receive, with no worker or "
        "Lambda in the stack) may process one message; such queues' visibility covers it.",
    }
)


def _function_timeout(function: Any) -> float:
    timeout = as_number(peek(function.props, "timeout"))
    return LAMBDA_DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout


def processing_requirements(
    index: StackIndex, queue: Queue, max_processing: float
) -> list[tuple[float, str]]:
    """(seconds the visibility must cover, who needs it) for each consumer of the queue."""
    needs: list[tuple[float, str]] = []
    seen_roles: set[int] = set()
    for worker in queue.workers:
        timeout = as_number(worker.environment.get("PROCESSING_TIMEOUT_SECONDS"))
        if timeout is None:
            needs.append(
                (
                    max_processing,
                    f"workers of {worker.resource.name} (no PROCESSING_TIMEOUT_SECONDS: "
                    f"maxProcessingSeconds {max_processing:g} s)",
                )
            )
        else:
            needs.append(
                (timeout, f"workers of {worker.resource.name} (PROCESSING_TIMEOUT_SECONDS={timeout:g})")
            )
        if worker.role is not None:
            seen_roles.add(id(worker.role))
    for consumer in queue.lambda_consumers:
        needs.append(
            (
                LAMBDA_VISIBILITY_FACTOR * consumer.timeout_seconds,
                f"Lambda {consumer.function.name} (timeout {consumer.timeout_seconds:g} s; AWS asks for "
                f"{LAMBDA_VISIBILITY_FACTOR}x the function timeout)",
            )
        )
        if consumer.role is not None:
            seen_roles.add(id(consumer.role))
    for access in receivers_of(index, queue):
        if id(access.role) in seen_roles:
            continue
        seen_roles.add(id(access.role))
        functions = access.role.lambda_functions
        if functions and not access.role.workers:
            # A Lambda execution role receives only inside an invocation, which ends at the function's
            # timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html).
            timeout, name = max((_function_timeout(function), function.name) for function in functions)
            needs.append(
                (
                    timeout,
                    f"Lambda {name} ({access.role.label} may receive from it; an invocation ends at the "
                    f"function's timeout, {timeout:g} s)",
                )
            )
            continue
        needs.append(
            (
                max_processing,
                f"{access.role.label}, allowed to receive (processing not in the stack: "
                f"maxProcessingSeconds {max_processing:g} s)",
            )
        )
    return needs


def _visibility(queue: Queue) -> float:
    visibility = as_number(known(queue.prop("visibilityTimeoutSeconds"), "visibilityTimeoutSeconds"))
    return SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility is None else visibility


def _check_visibility_covers_processing(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A message's visibility timeout must outlast its processing or it is delivered again
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html);
    for a Lambda consumer AWS asks for six times the function timeout (with-sqs.html)."""
    index = index_stack(args.resources)
    max_processing = float(as_number(setting(args, VISIBILITY_SCHEMA, "maxProcessingSeconds")) or 0)
    for queue in index.work_queues:
        needs = processing_requirements(index, queue, max_processing)
        if not needs:
            continue  # no consumer in the stack: an advisory note (cannot-decide-from-stack)
        visibility = _visibility(queue)
        required, who = max(needs, key=lambda need: need[0])
        if visibility < required:
            report_violation(
                f"queue {queue.label}: visibilityTimeoutSeconds is {visibility:g}, but {who} may take "
                f"{required:g} s per message. SQS makes a message visible again when the timeout ends, so files "
                f"still being processed are delivered and processed again. Set visibilityTimeoutSeconds >= "
                f"{required:g}.",
                queue.resource.urn,
            )
    if any(worker.user_data_unknown for worker in index.workers):
        known(UNKNOWN, "userData")


visibility_covers_processing = StackValidationPolicy(
    name="visibility-covers-processing",
    description="Every work queue's visibility timeout covers its consumers' processing: the workers' "
    "PROCESSING_TIMEOUT_SECONDS, six times a Lambda consumer's timeout, maxProcessingSeconds for a consumer "
    "whose processing the stack does not show. Fix: raise visibilityTimeoutSeconds.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=VISIBILITY_SCHEMA,
    validate=_check_visibility_covers_processing,
    remediation_steps="Set the queue's visibilityTimeoutSeconds to at least the longest processing time of its "
    "consumers (6x the function timeout for Lambda); take both numbers from one setting.",
    url=LAMBDA_SQS_DOC,
)

# --- dead-letter queue required --------------------------------------------------------------------

SQS_DLQ_DOC = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
)
DEAD_LETTER_SCHEMA = schema(
    minMaxReceiveCount={
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 2,
        "description": "Smallest allowed maxReceiveCount (1 can dead-letter a message that was never processed).",
    },
    maxMaxReceiveCount={
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 10,
        "description": "Largest allowed maxReceiveCount (a poison file is retried at most this often).",
    },
)


def _retention(queue: Queue) -> float:
    value = as_number(queue.prop("messageRetentionSeconds"))
    return SQS_DEFAULT_RETENTION_SECONDS if value is None else value


def _retention_fix(source: Queue, dlq: Queue, source_retention: float) -> str:
    if source_retention < SQS_MAX_RETENTION_SECONDS:
        return f"Set the DLQ's messageRetentionSeconds to {SQS_MAX_RETENTION_SECONDS} (14 days, the maximum)."
    return (
        f"Both cannot exceed the 14-day maximum ({SQS_MAX_RETENTION_SECONDS} s), so lower the source's: e.g. "
        f"messageRetentionSeconds={SQS_DEFAULT_RETENTION_SECONDS} on {source.label} (4 days), 14 days on the DLQ."
    )


def _failure_destinations(queue: Queue) -> str:
    """The Lambda on-failure destinations of the queue's consumers, as readable names ("" when none)."""
    names = [
        target.label if isinstance(target, Queue) else str(target)
        for consumer in queue.lambda_consumers
        for target in consumer.on_failure
    ]
    return ", ".join(dict.fromkeys(names))


def _check_dead_letter_queue(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A redrive policy makes another queue the dead-letter queue; it must be of the same type (FIFO or
    standard), and a standard queue's message keeps its original enqueue time in the DLQ, so the DLQ must
    retain longer (sqs-dead-letter-queues.html). For an SQS event source mapping the DLQ is the queue's:
    Lambda's on-failure destinations serve Kinesis, DynamoDB and Kafka mappings and asynchronous
    invocations only (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-eventsourcemapping-onfailure.html)."""
    index = index_stack(args.resources)
    low = as_number(setting(args, DEAD_LETTER_SCHEMA, "minMaxReceiveCount"))
    high = as_number(setting(args, DEAD_LETTER_SCHEMA, "maxMaxReceiveCount"))
    for queue in index.work_queues:
        urn = queue.resource.urn
        if queue.redrive_policy is None:
            swapped = [source for source in queue.redrive_sources if queue.fed_as_work_queue]
            if swapped:
                names = ", ".join(source.label for source in swapped)
                report_violation(
                    f"queue {queue.label} receives the work but has no redrive policy, while {names} redrives to "
                    f"it: the redrive policy is declared on the wrong queue (swapped). A message that always fails "
                    f"loops forever in {queue.label}. Move the redrive policy to {queue.label} with "
                    f"deadLetterTargetArn = {swapped[0].label}'s ARN.",
                    urn,
                )
            elif destinations := _failure_destinations(queue):
                report_violation(
                    f"queue {queue.label} has no redrive policy; its Lambda consumer sends failures to "
                    f"{destinations} through an on-failure destination, which Lambda never uses for an SQS event "
                    "source mapping (mapping destinations are for Kinesis, DynamoDB and Kafka sources; a function's "
                    "asynchronous destination does not apply to the mapping's synchronous invocations). A message "
                    "that always fails is received again and again until it expires. Put the DLQ on the queue: an "
                    "aws.sqs.RedrivePolicy with deadLetterTargetArn and maxReceiveCount, and drop the destination.",
                    urn,
                )
            else:
                report_violation(
                    f"queue {queue.label} has no redrive policy, so a message that always fails is received again "
                    "and again until it expires. Add a dead-letter queue: an aws.sqs.RedrivePolicy (or the queue's "
                    "redrivePolicy) with deadLetterTargetArn and maxReceiveCount.",
                    urn,
                )
            continue
        if is_unknown(queue.redrive_policy):
            continue  # present, not known yet during preview: it counts as present
        dlq = queue.redrive_target
        if dlq is not None and dlq.fed_as_work_queue and not dlq.redrive_policy:
            continue  # the swap is reported on the work queue
        document = json_document(queue.redrive_policy, "redrivePolicy")
        target = redrive_target(queue.redrive_policy)
        if target is None:
            report_violation(
                f"queue {queue.label}: the redrive policy names no deadLetterTargetArn; SQS rejects it.", urn
            )
        elif dlq is None and not is_unknown(target):
            report_violation(
                f"queue {queue.label}: the dead-letter target {target} is not a queue of this stack; declare the "
                "DLQ here so its type, retention and alarm are checked too.",
                urn,
            )
        count = peek(document, "maxReceiveCount")
        count_number = as_number(count)
        if not is_unknown(count) and (count_number is None or not low <= count_number <= high):
            report_violation(
                f"queue {queue.label}: maxReceiveCount is {count}; allowed range is {low:g}..{high:g} "
                "(1 dead-letters messages that were only received, never processed).",
                urn,
            )
        if dlq is None:
            continue
        if dlq.fifo != queue.fifo:
            kinds = ("FIFO", "standard") if queue.fifo else ("standard", "FIFO")
            report_violation(
                f"queue {queue.label} is a {kinds[0]} queue but its dead-letter queue {dlq.label} is {kinds[1]}: "
                "SQS requires a DLQ of the same type and rejects the redrive policy. Make both FIFO or both "
                "standard.",
                urn,
            )
        if is_unknown(dlq.prop("messageRetentionSeconds")) or is_unknown(
            queue.prop("messageRetentionSeconds")
        ):
            continue
        source_retention, dlq_retention = _retention(queue), _retention(dlq)
        if dlq_retention <= source_retention:
            report_violation(
                f"dead-letter queue {dlq.label} keeps messages {dlq_retention:g} s, not longer than its source "
                f"{queue.label} ({source_retention:g} s). A standard queue's message keeps its original enqueue "
                "time when moved, so it can expire in the DLQ before anyone reads it. "
                + _retention_fix(queue, dlq, source_retention),
                dlq.resource.urn,
            )


dead_letter_queue_required = StackValidationPolicy(
    name="dead-letter-queue-required",
    description="Every work queue redrives to a dead-letter queue of this stack (the queue its redrive policy "
    "points at), of the same type (FIFO/standard), with maxReceiveCount in the configured range, and the DLQ "
    "keeps messages longer than its source. Fix: an aws.sqs.RedrivePolicy on the work queue targeting a DLQ "
    "declared in the stack.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=DEAD_LETTER_SCHEMA,
    validate=_check_dead_letter_queue,
    remediation_steps="Put the redrive policy on the queue that receives the work (deadLetterTargetArn = the DLQ, "
    "maxReceiveCount in range); make the DLQ the same type and give it a longer messageRetentionSeconds, lowering "
    "the source's when both are at 14 days.",
    url=SQS_DLQ_DOC,
)

# --- the consumer may delete what it receives --------------------------------------------------------

IAM_EVALUATION_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
)


def _principal(access: Any) -> str:
    role = access.role
    sources = [source.name for source in role.sources if source is not role.resource]
    made_of = f" (policies: {', '.join(sources)})" if sources and role.declared else ""
    return f"{'role ' if role.declared else ''}{role.label}{made_of}"


def consumer_findings(index: StackIndex) -> list[tuple[bool, str, str]]:
    """(decided, message, urn) for every consumer that cannot delete, change visibility or receive."""
    findings = []
    for access in access_table(index):
        role = access.role
        urn = role.resource.urn
        decided = role.permissions.decidable
        where = f"queue {access.queue_label}"
        if access.declared and not access.receive:
            findings.append(
                (
                    decided,
                    f"{_principal(access)} consumes {where} but its effective permissions do not allow "
                    "sqs:ReceiveMessage on it: the consumer gets AccessDenied on every receive and nothing is "
                    "processed. Grant sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on it.",
                    urn,
                )
            )
            continue
        if not access.delete:
            findings.append(
                (
                    decided,
                    f"{_principal(access)} may sqs:ReceiveMessage on {where} but not sqs:DeleteMessage (an explicit "
                    "Deny in any of its policies or in the queue's own policy, a permissions boundary, or no Allow in "
                    "any of them): it can never delete "
                    "what it processed, so every message becomes visible again and loops until it is dead-lettered or "
                    "expires (the incident). Grant sqs:DeleteMessage on the same queue and remove the Deny.",
                    urn,
                )
            )
        lambda_only = role.lambda_functions and not role.workers
        if not access.change_visibility and not lambda_only:
            findings.append(
                (
                    decided,
                    f"{_principal(access)} may sqs:ReceiveMessage on {where} but not sqs:ChangeMessageVisibility: it "
                    "cannot extend the visibility of a long job (heartbeat) nor release a failed message early "
                    "(backoff), so a slow file is redelivered mid-processing. Grant sqs:ChangeMessageVisibility on "
                    "the same queue.",
                    urn,
                )
            )
    return findings


def _check_consumer_can_delete(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A role's permissions are the union of its inline and attached policies, an explicit Deny anywhere
    wins and a permissions boundary caps them (reference_policies_evaluation-logic.html). Within one
    account the queue's own resource-based policy counts as well: its explicit Deny (to `*` or the role)
    removes the action, and its Allow naming the role grants it, still within the role's boundary
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-basic-examples-of-sqs-policies.html)."""
    index = index_stack(args.resources)
    for decided, message, urn in consumer_findings(index):
        if decided:
            report_violation(message, urn)
    for role in index.roles:
        for document_source in role.sources:
            if is_unknown(peek(document_source.props, "policy")):
                known(UNKNOWN, "policy")


consumer_can_delete = StackValidationPolicy(
    name="consumer-can-delete",
    description="Every consumer of a queue (a worker's instance role, a Lambda's execution role, any role "
    "allowed sqs:ReceiveMessage) may also sqs:DeleteMessage and sqs:ChangeMessageVisibility on it, judged on "
    "its effective permissions: all inline and attached policies, explicit Deny first, capped by its "
    "permissions boundary. Fix: grant the three actions on the same queue.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_consumer_can_delete,
    remediation_steps="Grant sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the queue in "
    "one of the role's policies, and make sure no Deny (in its policies or the queue policy) or permissions "
    "boundary removes DeleteMessage.",
    url=IAM_EVALUATION_DOC,
)

# --- no recursive trigger --------------------------------------------------------------------------


def _check_no_recursive_trigger(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """An object written under a watched prefix raises another event
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html)."""
    index = index_stack(args.resources)
    outputs_by_bucket: dict[str, list[tuple[Any, str]]] = {}
    for worker in index.workers:
        output_bucket = worker.environment.get("INDEX_BUCKET")
        if output_bucket:
            bucket = index.bucket_lookup.get(output_bucket)
            key = bucket.urn if bucket is not None else output_bucket
            outputs_by_bucket.setdefault(key, []).append((worker, worker.environment.get("INDEX_PREFIX", "")))
    for notification in index.notifications:
        for destination in notification.destinations:
            if not any(
                str(event).lower().startswith("s3:objectcreated") or is_unknown(event) or event == "s3:*"
                for event in destination.events
            ):
                continue
            for worker, output_prefix in outputs_by_bucket.get(notification.bucket_key, []):
                if destination.prefix.startswith(output_prefix) or output_prefix.startswith(
                    destination.prefix
                ):
                    report_violation(
                        f"bucket {notification.bucket}: the notification on prefix {destination.prefix!r} also "
                        f"matches where the workers of {worker.resource.name} write (INDEX_PREFIX "
                        f"{output_prefix!r}), so S3 raises a new event for each document they write and the "
                        "pipeline feeds itself. Write the output to another bucket or a prefix outside the "
                        "watched one.",
                        notification.resource.urn,
                    )


no_recursive_trigger = StackValidationPolicy(
    name="no-recursive-trigger",
    description="A bucket notification's filter does not match where the workers write their output. Fix: "
    "write the output to another bucket or outside the watched prefix.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_no_recursive_trigger,
    remediation_steps="Point INDEX_BUCKET/INDEX_PREFIX outside every prefix a notification of that bucket watches.",
    url="https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html",
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


def _check_dlq_alarmed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """SQS metrics per queue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
    sqs-available-cloudwatch-metrics.html)."""
    index = index_stack(args.resources)
    alarmed = _alarmed_queue_names(index.alarms)
    for dlq in index.dead_letter_queues:
        if str(dlq.name) not in alarmed and UNKNOWN not in alarmed:
            report_violation(
                f"dead-letter queue {dlq.label} has no CloudWatch alarm on {DLQ_METRIC}: failed files would pile "
                "up unseen. Add an aws.cloudwatch.MetricAlarm (namespace AWS/SQS, QueueName dimension) > 0.",
                dlq.resource.urn,
            )


dlq_is_alarmed = StackValidationPolicy(
    name="dlq-is-alarmed",
    description="Each dead-letter queue has a CloudWatch alarm on ApproximateNumberOfMessagesVisible. Fix: add an "
    "aws.cloudwatch.MetricAlarm on it (namespace AWS/SQS, QueueName dimension, > 0).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_check_dlq_alarmed,
    remediation_steps="Add an aws.cloudwatch.MetricAlarm on AWS/SQS ApproximateNumberOfMessagesVisible with the "
    "DLQ's QueueName dimension, threshold 0, comparison GreaterThanThreshold.",
    url="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html",
)

# --- what the stack cannot decide --------------------------------------------------------------------


def undecided_notes(index: StackIndex, max_processing: float) -> list[tuple[str, str]]:
    notes = []
    for decided, message, urn in consumer_findings(index):
        if not decided:
            notes.append(
                (
                    message + " (Cannot be decided from this stack: it also holds "
                    "policies whose text is not here.)",
                    urn,
                )
            )
    notes += [(message, urn) for decided, message, urn in alarm_topic_findings(index) if not decided]
    reported: set[int] = set()
    for access in access_table(index):
        role = access.role
        if not role.permissions.decidable and id(role) not in reported and access.receive:
            reported.add(id(role))
            notes.append(
                (
                    f"{_principal(access)} consumes queue {access.queue_label} and also holds "
                    f"{', '.join(role.permissions.undecided)}, neither in this stack nor in the pack's table of "
                    "AWS-managed policies: whether it may delete and change visibility cannot be decided here. Declare "
                    "that policy in the stack, or attach the queue permissions explicitly.",
                    role.resource.urn,
                )
            )
    for mapping in index.outside_queue_mappings:
        notes.append(
            (
                f"Lambda event source mapping {mapping.name} consumes {peek(mapping.props, 'eventSourceArn')}, a "
                "queue this stack does not declare (read by id, or another stack's): its visibility timeout (AWS asks "
                "for 6x the function timeout) and its dead-letter queue cannot be checked here. Check them in the "
                "stack that declares the queue.",
                mapping.urn,
            )
        )
    for queue in index.idle_queues:
        if queue.redrive_policy is None:
            notes.append(
                (
                    f"queue {queue.label} has no feed and no consumer in this stack and no redrive policy. If "
                    "something outside the stack consumes it, a message that always fails loops until it expires: "
                    "give it a dead-letter queue (aws.sqs.RedrivePolicy).",
                    queue.resource.urn,
                )
            )
    for queue in index.work_queues + index.idle_queues:
        if processing_requirements(index, queue, max_processing):
            continue
        visibility = as_number(queue.prop("visibilityTimeoutSeconds"))
        visibility = SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility is None else visibility
        if not is_unknown(queue.prop("visibilityTimeoutSeconds")) and visibility < max_processing:
            notes.append(
                (
                    f"queue {queue.label} has no consumer in this stack (no worker naming it, no Lambda mapping, no "
                    f"role allowed to receive), so its processing time is unknown; its visibilityTimeoutSeconds "
                    f"({visibility:g}) is below maxProcessingSeconds ({max_processing:g}). If its consumers take that "
                    "long, messages are delivered again while being processed.",
                    queue.resource.urn,
                )
            )
    return notes


UNDECIDED_SCHEMA = schema(
    maxProcessingSeconds={
        "type": "integer",
        "minimum": 0,
        "maximum": 43200,
        "default": 900,
        "description": "The processing time assumed for a queue whose consumers are not in the stack.",
    }
)


def _check_cannot_decide(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    max_processing = float(as_number(setting(args, UNDECIDED_SCHEMA, "maxProcessingSeconds")) or 0)
    for message, urn in undecided_notes(index, max_processing):
        report_violation(message, urn)


cannot_decide_from_stack = StackValidationPolicy(
    name="cannot-decide-from-stack",
    description="Notes where a verdict needs what the stack does not hold: a consumer role with a policy whose "
    "text is elsewhere (an AWS-managed policy outside the pack's table, another stack's policy), a queue with no "
    "consumer in the stack. Fix: declare the missing piece in the stack.",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=UNDECIDED_SCHEMA,
    validate=_check_cannot_decide,
    remediation_steps="Declare the policy, role or consumer in the stack so the pack can judge it.",
    url=IAM_EVALUATION_DOC,
)

INCIDENT_POLICIES = [
    one_notification_per_bucket,
    visibility_covers_processing,
    dead_letter_queue_required,
    consumer_can_delete,
    no_recursive_trigger,
    dlq_is_alarmed,
    cannot_decide_from_stack,
]
