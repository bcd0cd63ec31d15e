"""Where a verdict needs what the stack does not hold, the pack says so in the output, never passes silently."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.access import access_table
from ..analysis.authorisation import authorise
from ..analysis.graph import delivery_graph
from ..analysis.lifecycle import processing_requirements
from ..analysis.model import StackIndex
from ..analysis.types import SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS, SQS_MAX_VISIBILITY_SECONDS
from ..analysis.values import as_number, is_unknown, peek
from .alarms import alarm_topic_findings
from .common import Finding, Settings, schema, stack_validator
from .consumers import IAM_EVALUATION_DOC, _principal, consumer_findings
from .delivery import service_edges


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
    for source, arn, service, via in delivery_graph(index).elsewhere:
        notes.append(
            (
                f"{source.kind} {source.label} delivers to {arn}, which this stack does not declare: whether "
                f"{service} may deliver there (its resource policy, its KMS key, its type) cannot be decided here. "
                "Check those in the stack that declares it, or declare it here.",
                via.urn,
            )
        )
    for edge in service_edges(index):
        decision = authorise(index, edge)
        if decision.allowed is None and decision.kind != "not-known-yet":
            notes.append((f"{edge.describe()} ({edge.service}): {decision.reason}. {decision.fix}", edge.urn))
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
        "maximum": SQS_MAX_VISIBILITY_SECONDS,
        "default": 900,
        "description": "The processing time assumed for a queue whose consumers are not in the stack.",
    }
)


def _cannot_decide(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    max_processing = float(as_number(settings("maxProcessingSeconds")) or 0)
    yield from undecided_notes(index, max_processing)


cannot_decide_from_stack = StackValidationPolicy(
    name="cannot-decide-from-stack",
    description="Notes where a verdict needs what the stack does not hold: a consumer role with a policy whose "
    "text is elsewhere (an AWS-managed policy outside the pack's table, another stack's policy), a queue with no "
    "consumer in the stack. Fix: declare the missing piece in the stack.",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=UNDECIDED_SCHEMA,
    validate=stack_validator(_cannot_decide, UNDECIDED_SCHEMA),
    remediation_steps="Declare the policy, role or consumer in the stack so the pack can judge it.",
    url=IAM_EVALUATION_DOC,
)

UNDECIDED_POLICIES = [cannot_decide_from_stack]
