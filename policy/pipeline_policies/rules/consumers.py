"""Every consumer may delete and release what it receives: judged on its effective permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.access import access_table
from ..analysis.model import StackIndex
from ..analysis.values import UNKNOWN, is_unknown, known, peek
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

CONSUMER_POLICIES = [consumer_can_delete]
