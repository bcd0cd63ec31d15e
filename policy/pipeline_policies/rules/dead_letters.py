"""Every work queue has a dead-letter queue SQS can redrive to, so a message that always fails stops looping."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.constraints import violations
from ..analysis.index import redrive_target
from ..analysis.lifecycle import retention_seconds, seconds_to_dead_letter
from ..analysis.model import Queue, StackIndex
from ..analysis.types import SQS_DEFAULT_RETENTION_SECONDS, SQS_MAX_RETENTION_SECONDS
from ..analysis.values import as_number, is_unknown, json_document, peek
from .common import Finding, Settings, schema, stack_validator

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


def _dead_letter_queue(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A redrive policy makes another queue the dead-letter queue; it must be of the same type (FIFO or
    standard), and a standard queue's message keeps its original enqueue time in the DLQ, so the DLQ must
    retain longer (sqs-dead-letter-queues.html). For an SQS event source mapping the DLQ is the queue's:
    Lambda's on-failure destinations serve Kinesis, DynamoDB and Kafka mappings and asynchronous
    invocations only (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-eventsourcemapping-onfailure.html)."""
    redrive_constraints: dict[int, list] = {}
    for row, edge, message in violations(index, "dead-letters"):
        redrive_constraints.setdefault(id(edge.source.model), []).append((row, edge, message))
    low = as_number(settings("minMaxReceiveCount"))
    high = as_number(settings("maxMaxReceiveCount"))
    work = {id(queue) for queue in index.work_queues}
    for queue in index.queues:
        # SQS refuses a redrive policy its DLQ cannot take whatever the source's role in the pipeline, so a
        # queue nothing feeds yet (a retry queue) fails `pulumi up` the same way.
        if id(queue) not in work:
            for _row, _edge, message in redrive_constraints.get(id(queue), []):
                yield (message, queue.resource.urn)
    for queue in index.work_queues:
        urn = queue.resource.urn
        if queue.redrive_policy is None:
            swapped = [source for source in queue.redrive_sources if queue.fed_as_work_queue]
            if swapped:
                names = ", ".join(source.label for source in swapped)
                yield (
                    f"queue {queue.label} receives the work but has no redrive policy, while {names} redrives to "
                    f"it: the redrive policy is declared on the wrong queue (swapped). A message that always fails "
                    f"loops forever in {queue.label}. Move the redrive policy to {queue.label} with "
                    f"deadLetterTargetArn = {swapped[0].label}'s ARN.",
                    urn,
                )
            elif destinations := _failure_destinations(queue):
                yield (
                    f"queue {queue.label} has no redrive policy; its Lambda consumer sends failures to "
                    f"{destinations} through an on-failure destination, which Lambda never uses for an SQS event "
                    "source mapping (mapping destinations are for Kinesis, DynamoDB and Kafka sources; a function's "
                    "asynchronous destination does not apply to the mapping's synchronous invocations). A message "
                    "that always fails is received again and again until it expires. Put the DLQ on the queue: an "
                    "aws.sqs.RedrivePolicy with deadLetterTargetArn and maxReceiveCount, and drop the destination.",
                    urn,
                )
            else:
                yield (
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
            yield (
                f"queue {queue.label}: the redrive policy names no deadLetterTargetArn; SQS rejects it.",
                urn,
            )
        elif dlq is None and not is_unknown(target):
            yield (
                f"queue {queue.label}: the dead-letter target {target} is not a queue of this stack; declare the "
                "DLQ here so its type, retention and alarm are checked too.",
                urn,
            )
        count = peek(document, "maxReceiveCount")
        count_number = as_number(count)
        if not is_unknown(count) and (count_number is None or not low <= count_number <= high):
            yield (
                f"queue {queue.label}: maxReceiveCount is {count}; allowed range is {low:g}..{high:g} "
                "(1 dead-letters messages that were only received, never processed).",
                urn,
            )
        if dlq is None:
            continue
        for _row, _edge, message in redrive_constraints.get(id(queue), []):
            yield (message, urn)
        if count_number is not None and not is_unknown(count):
            needed = seconds_to_dead_letter(queue, count_number)
            source_retention = retention_seconds(queue)
            if (
                needed is not None
                and not is_unknown(queue.prop("messageRetentionSeconds"))
                and source_retention <= needed  # expiring at the very moment it would move loses it too
            ):
                yield (
                    f"queue {queue.label} keeps a message {source_retention:g} s (messageRetentionSeconds), but a "
                    f"message that keeps failing is moved to {dlq.label} only after maxReceiveCount {count_number:g} "
                    f"receives of visibilityTimeoutSeconds each (plus any delay): {needed:g} s. SQS deletes it when "
                    "its retention ends, so it expires before it is dead-lettered and is lost unseen. Raise "
                    f"messageRetentionSeconds above {needed:g}, or lower maxReceiveCount or the visibility timeout.",
                    urn,
                )
        if is_unknown(dlq.prop("messageRetentionSeconds")) or is_unknown(
            queue.prop("messageRetentionSeconds")
        ):
            continue
        source_retention, dlq_retention = retention_seconds(queue), retention_seconds(dlq)
        if dlq_retention <= source_retention:
            yield (
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
    validate=stack_validator(_dead_letter_queue, DEAD_LETTER_SCHEMA),
    remediation_steps="Put the redrive policy on the queue that receives the work (deadLetterTargetArn = the DLQ, "
    "maxReceiveCount in range); make the DLQ the same type and give it a longer messageRetentionSeconds, lowering "
    "the source's when both are at 14 days.",
    url=SQS_DLQ_DOC,
)

DEAD_LETTER_POLICIES = [dead_letter_queue_required]
