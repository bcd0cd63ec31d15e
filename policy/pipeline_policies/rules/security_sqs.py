"""SQS security: queues stay encrypted at rest, queue policies admit a service only for its own source, and
work queues long-poll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from ..analysis.model import StackIndex
from ..analysis.types import QUEUE, QUEUE_POLICY, SQS_DEFAULT_RECEIVE_WAIT_SECONDS
from ..analysis.values import as_list, as_number, is_unknown, json_document, pattern_matches, peek, statements
from .common import Finding, Settings, plain_props, schema, stack_validator

SQS_SSE_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html"


def _check_sqs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """SSE-SQS or SSE-KMS encrypt a queue at rest (sqs-server-side-encryption.html). Left undeclared, new
    queues get SSE-SQS by default (see `aws-secure-defaults-relied-on`); only turning it off is judged here."""
    if args.resource_type != QUEUE:
        return
    if peek(args.props, "sqsManagedSseEnabled") is False and not peek(args.props, "kmsMasterKeyId"):
        report_violation(
            f"queue {args.name} turns encryption at rest off (sqsManagedSseEnabled=False, no kmsMasterKeyId): SQS "
            "stores its messages unencrypted. Set sqsManagedSseEnabled=True (SSE-SQS; S3 can publish to it) or "
            "kmsMasterKeyId (a customer managed key whose policy lets the senders use it)."
        )


def _remediate_sqs_encryption(args: ResourceValidationArgs) -> dict[str, Any] | None:
    if args.resource_type != QUEUE:
        return None
    if peek(args.props, "sqsManagedSseEnabled") is False and not peek(args.props, "kmsMasterKeyId"):
        return {**plain_props(args.props), "sqsManagedSseEnabled": True}
    return None


sqs_encryption_at_rest = ResourceValidationPolicy(
    name="sqs-encryption-at-rest",
    description="SQS queues do not turn encryption at rest off. Fix: set sqsManagedSseEnabled=True or a kmsMasterKeyId.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_sqs_encrypted,
    remediate=_remediate_sqs_encryption,
    remediation_steps="Set sqsManagedSseEnabled=True on the queue (or kmsMasterKeyId to a customer managed key).",
    url=SQS_SSE_DOC,
)

SOURCE_CONDITION_KEYS = {"aws:sourcearn", "aws:sourceaccount"}
# For `*` (any AWS principal), limiting who may call is what the principal keys do: an organization-wide
# queue policy with aws:PrincipalOrgID is AWS's documented pattern, not an open queue.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
PRINCIPAL_CONDITION_KEYS = {
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourceorgid",
}
CONFUSED_DEPUTY_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
SEND = "sqs:SendMessage"


def _may_send(statement: Any) -> bool:
    """The statement covers sqs:SendMessage (what injects messages); a grant of other actions does not."""
    not_action = "NotAction" in statement
    patterns = [str(a) for a in as_list(statement.get("NotAction" if not_action else "Action"))]
    return any(pattern_matches(pattern, SEND) for pattern in patterns) != not_action


def unconditioned_service_grants(document: Any) -> list[str]:
    """Service principals (or '*') allowed sqs:SendMessage by a resource policy without
    aws:SourceArn/aws:SourceAccount (or, for '*', without a principal condition such as aws:PrincipalOrgID)."""
    found = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow" or not _may_send(statement):
            continue
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
        if anyone:
            principals = ["*"]
        elif isinstance(principal, dict):
            principals = [str(service) for service in as_list(principal.get("Service"))]
        else:
            principals = []
        conditions = statement.get("Condition") or {}
        keys = {
            key.lower() for operator in conditions.values() if isinstance(operator, dict) for key in operator
        }
        limiting = SOURCE_CONDITION_KEYS | (PRINCIPAL_CONDITION_KEYS if anyone else set())
        if principals and not keys & limiting:
            found.extend(principals)
    return found


def _check_service_principal_conditions(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A service principal allowed without aws:SourceArn/aws:SourceAccount can be used by any account's
    resource (confused-deputy.html)."""
    if args.resource_type not in (QUEUE_POLICY, QUEUE):
        return
    policy = peek(args.props, "policy")
    if not policy:
        return
    for principal in unconditioned_service_grants(json_document(policy, "policy")):
        report_violation(
            f"{args.name} lets {principal} send to the queue on behalf of any source: a bucket or topic of any "
            "account can inject messages. Add a Condition with aws:SourceArn (the sender's ARN) and "
            "aws:SourceAccount (your account)."
        )


queue_policy_source_conditions = ResourceValidationPolicy(
    name="queue-policy-source-conditions",
    description="A queue policy allows a service principal only with an aws:SourceArn or aws:SourceAccount "
    "condition (no confused deputy, no events from other accounts' buckets). Fix: add both conditions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_service_principal_conditions,
    remediation_steps="Add a Condition to the Allow statement: ArnEquals aws:SourceArn = the sender's ARN and "
    "StringEquals aws:SourceAccount = your account id.",
    url=CONFUSED_DEPUTY_DOC,
)

LONG_POLLING_SCHEMA = schema(
    minReceiveWaitTimeSeconds={
        "type": "integer",
        "minimum": 1,
        "maximum": 20,
        "default": 10,
        "description": "Smallest receiveWaitTimeSeconds a work queue may have.",
    }
)
LONG_POLLING_DOC = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html"


def _long_polling(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Short polling answers from a subset of servers and bills every empty receive (sqs-short-and-long-polling)."""
    minimum = as_number(settings("minReceiveWaitTimeSeconds"))
    for queue in index.work_queues:
        wait = queue.prop("receiveWaitTimeSeconds")
        if is_unknown(wait):
            continue
        wait_seconds = as_number(wait)
        wait_seconds = SQS_DEFAULT_RECEIVE_WAIT_SECONDS if wait_seconds is None else wait_seconds
        if minimum is not None and wait_seconds < minimum:
            yield (
                f"queue {queue.label}: receiveWaitTimeSeconds is {wait_seconds:g}; short polling returns empty "
                f"responses that are billed and may miss messages. Set receiveWaitTimeSeconds to {minimum:g}..20.",
                queue.resource.urn,
            )


work_queue_long_polling = StackValidationPolicy(
    name="work-queue-long-polling",
    description="Work queues use long polling. Fix: set receiveWaitTimeSeconds to at least minReceiveWaitTimeSeconds (max 20).",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=LONG_POLLING_SCHEMA,
    validate=stack_validator(_long_polling, LONG_POLLING_SCHEMA),
    remediation_steps="Set receiveWaitTimeSeconds=20 on the queue.",
    url=LONG_POLLING_DOC,
)

SQS_SECURITY_POLICIES = [sqs_encryption_at_rest, queue_policy_source_conditions, work_queue_long_polling]
