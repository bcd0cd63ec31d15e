"""Every consumer may delete and release what it receives: judged on its effective permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.access import access_table, receivers_of
from ..analysis.model import StackIndex, _text
from ..analysis.types import AUTOSCALING_GROUP, INSTANCE
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


def _consumer_can_run(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A work queue whose only consumers are fleets capped at zero instances is never read: every message
    waits until its retention ends (asg-capacity-limits.html: an Auto Scaling group never exceeds its
    maximum size)."""
    for queue in index.work_queues:
        if not queue.workers or queue.lambda_consumers:
            continue
        worker_roles = {id(worker.role) for worker in queue.workers if worker.role is not None}
        if any(id(access.role) not in worker_roles for access in receivers_of(index, queue)):
            continue  # another principal may consume it
        stopped = []
        for worker in queue.workers:
            if worker.resource.resource_type == INSTANCE:
                break
            groups = _groups_launching(index, worker.resource)
            sizes = [peek(group.props, "maxSize") for group in groups]
            if not groups or any(is_unknown(size) or (as_number(size) or 0) > 0 for size in sizes):
                break
            stopped += groups
        else:
            names = ", ".join(group.name for group in stopped)
            yield (
                f"queue {queue.label} is consumed only by workers launched from "
                f"{', '.join(worker.resource.name for worker in queue.workers)}, whose Auto Scaling group(s) "
                f"{names} have maxSize 0: no instance can ever run, so nothing receives from the queue and every "
                "message waits until its retention ends, then is deleted unprocessed (no receive, so no "
                "dead-letter queue either). Set maxSize (and desiredCapacity) to at least 1.",
                queue.resource.urn,
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

CONSUMER_POLICIES = [consumer_can_delete, consumer_can_run]
