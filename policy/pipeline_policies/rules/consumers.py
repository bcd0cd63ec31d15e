"""Every consumer may delete and release what it receives: judged on its effective permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.access import access_table, receivers_of
from ..analysis.model import StackIndex, _text
from ..analysis.types import AUTOSCALING_GROUP, INSTANCE, SCALING_POLICY, SCHEDULED_ACTION
from ..analysis.values import UNKNOWN, as_number, is_unknown, known, peek
from .common import Finding, Settings, stack_validator

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


def _consumer_can_delete(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A role's permissions are the union of its inline and attached policies, an explicit Deny anywhere
    wins and a permissions boundary caps them (reference_policies_evaluation-logic.html). Within one
    account the queue's own resource-based policy counts as well: its explicit Deny (to `*` or the role)
    removes the action, and its Allow naming the role grants it, still within the role's boundary
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-basic-examples-of-sqs-policies.html)."""
    for decided, message, urn in consumer_findings(index):
        if decided:
            yield (message, urn)
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
    validate=stack_validator(_consumer_can_delete),
    remediation_steps="Grant sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the queue in "
    "one of the role's policies, and make sure no Deny (in its policies or the queue policy) or permissions "
    "boundary removes DeleteMessage.",
    url=IAM_EVALUATION_DOC,
)


# --- a consumer that can exist -------------------------------------------------------------------------

ASG_CAPACITY_DOC = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html"


def _groups_launching(index: StackIndex, launcher: Any) -> list[Any]:
    """The Auto Scaling groups of the stack that launch from this launch template or configuration."""
    names = [peek(launcher.props, key) for key in ("id", "name", "arn")]
    groups = []
    for group in index.by_type.get(AUTOSCALING_GROUP, []):
        props = group.props
        specs = [peek(props, "launchTemplate") or {}]
        mixed = peek(peek(props, "mixedInstancesPolicy") or {}, "launchTemplate") or {}
        specs.append(peek(mixed, "launchTemplateSpecification") or {})
        references = [peek(props, "launchConfiguration")]
        references += [peek(spec, key) for spec in specs for key in ("id", "name")]
        dependencies = {
            getattr(d, "urn", d)
            for key in ("launchTemplate", "mixedInstancesPolicy", "launchConfiguration")
            for d in (group.property_dependencies or {}).get(key, [])
        }
        if launcher.urn in dependencies or any(_text(r) and r in names for r in references):
            groups.append(group)
    return groups


def _scaled(index: StackIndex, group: Any) -> bool:
    """A scaling policy or scheduled action of the stack acts on the group (it may raise its capacity)."""
    names = [peek(group.props, key) for key in ("name", "id")]
    for kind in (SCALING_POLICY, SCHEDULED_ACTION):
        if index.attached(kind, names, group.urn, "autoscalingGroupName"):
            return True
    return False


def _invoked_for_other_queues(index: StackIndex, role: Any, queue: Any) -> bool:
    """A Lambda execution role receives only inside an invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html), and Lambda polls a queue for a
    function only through an event source mapping on it
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html). When every function of
    the role is invoked by mappings on other queues, its permission to receive from this one (often the
    wildcard of AWSLambdaSQSQueueExecutionRole) makes it no consumer of this queue."""
    functions = {function.urn for function in role.lambda_functions}
    if not functions or role.workers:
        return False
    mapped: dict[str, list[Any]] | None = index.memo.get("mapped-queues")
    if mapped is None:
        mapped = index.memo["mapped-queues"] = {}
        for consumer in index.lambda_consumers:
            mapped.setdefault(consumer.function.urn, []).append(consumer.queue)
    return all(urn in mapped and all(other is not queue for other in mapped[urn]) for urn in functions)


def consumer_states(index: StackIndex, queue: Any) -> list[tuple[str, str]]:
    """(state, who) for each consumer of a work queue: running, stopped (can never run), paused (runs only if
    someone outside the stack starts it), or unknown. Roles allowed to receive, beyond the declared
    workers and Lambda mappings, count as running."""
    states: list[tuple[str, str]] = []
    declared_roles = {id(w.role) for w in queue.workers if w.role is not None}
    declared_roles |= {id(c.role) for c in queue.lambda_consumers if c.role is not None}
    for access in receivers_of(index, queue):
        if id(access.role) not in declared_roles and not _invoked_for_other_queues(index, access.role, queue):
            states.append(("running", access.role.label))
    for consumer in queue.lambda_consumers:
        enabled = peek(consumer.mapping.props, "enabled")
        who = f"event source mapping {consumer.mapping.name} (Lambda {consumer.function.name})"
        states.append(
            ("paused" if enabled is False else "unknown" if is_unknown(enabled) else "running", who)
        )
    for worker in queue.workers:
        who = f"workers launched from {worker.resource.name}"
        if worker.resource.resource_type == INSTANCE:
            states.append(("running", who))
            continue
        groups = _groups_launching(index, worker.resource)
        if not groups:
            states.append(("unknown", who))  # launched by a group elsewhere, or not at all
            continue
        for group in groups:
            maximum, desired = peek(group.props, "maxSize"), peek(group.props, "desiredCapacity")
            minimum = peek(group.props, "minSize")
            if any(is_unknown(value) for value in (maximum, desired, minimum)):
                states.append(("unknown", who))
            elif (as_number(maximum) or 0) <= 0:
                states.append(("stopped", f"{who} (Auto Scaling group {group.name}, maxSize 0)"))
            elif (as_number(desired) if desired is not None else as_number(minimum) or 0) or _scaled(
                index, group
            ):
                states.append(("running", who))
            else:
                states.append(
                    (
                        "paused",
                        f"{who} (Auto Scaling group {group.name}, desiredCapacity 0, no scaling "
                        "policy or schedule in this stack)",
                    )
                )
    return states


def _consumer_can_run(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A work queue whose only consumers are fleets capped at zero instances is never read: every message
    waits until its retention ends (asg-capacity-limits.html: an Auto Scaling group never exceeds its
    maximum size)."""
    for queue in index.work_queues:
        states = consumer_states(index, queue)
        if states and all(state == "stopped" for state, _ in states):
            yield (
                f"queue {queue.label} is consumed only by {'; '.join(who for _, who in states)}: no instance can "
                "ever run, so nothing receives from the queue and every message waits until its retention ends, "
                "then is deleted unprocessed (never received, so never dead-lettered either). Set maxSize (and "
                "desiredCapacity) to at least 1.",
                queue.resource.urn,
            )


def _consumer_may_be_paused(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A disabled event source mapping does not poll (services-sqs-configure.html); a group at desired
    capacity 0 launches nothing until something raises it (asg-capacity-limits.html)."""
    for queue in index.work_queues:
        states = consumer_states(index, queue)
        kinds = {state for state, _ in states}
        if states and "paused" in kinds and kinds <= {"paused", "stopped"}:
            yield (
                f"queue {queue.label} is consumed only by {'; '.join(who for _, who in states)}: nothing in this "
                "stack starts them, so until someone does, no message is received and each one is deleted "
                "unprocessed when its retention ends. Enable the mapping, or give the group a desiredCapacity "
                "or a scaling policy; if the pause is deliberate, make sure retention outlasts it.",
                queue.resource.urn,
            )


consumer_may_be_paused = StackValidationPolicy(
    name="consumer-may-be-paused",
    description="Notes a work queue whose only consumers are paused: disabled Lambda event source mappings, "
    "Auto Scaling groups at desired capacity 0 with no scaling policy or schedule in the stack. Fix: enable or "
    "scale them.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_consumer_may_be_paused),
    remediation_steps="Set the mapping's enabled=True, or the group's desired_capacity >= 1 or a scaling policy.",
    url=ASG_CAPACITY_DOC,
)


consumer_can_run = StackValidationPolicy(
    name="consumer-can-run",
    description="A work queue whose consumers are EC2 workers has at least one that can run: an Auto Scaling "
    "group launching them with maxSize > 0, a lone instance, or another consumer. Fix: raise maxSize.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_consumer_can_run),
    remediation_steps="Set the Auto Scaling group's max_size (and desired_capacity) to at least 1.",
    url=ASG_CAPACITY_DOC,
)

CONSUMER_POLICIES = [consumer_can_delete, consumer_can_run, consumer_may_be_paused]
