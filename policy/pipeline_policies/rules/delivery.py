"""Every hop of the delivery graph is authorised at its destination, or nothing arrives.

S3 → SQS, S3 → SNS, SNS → SQS, EventBridge → SQS and EventBridge → SNS each need the destination's resource
policy to admit the sending service for this source, and an encrypted destination a KMS key that service
may use (`analysis/authorisation.py`). CloudWatch → SNS is judged the same way by `alarms-reach-someone`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.authorisation import authorise
from ..analysis.graph import CLOUDWATCH, Edge, delivery_graph
from ..analysis.model import StackIndex
from ..analysis.values import UNKNOWN, known
from .common import Finding, Settings, stack_validator

GRANT_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"


def service_edges(index: StackIndex) -> list[Edge]:
    """The hops a service other than CloudWatch performs (alarms have their own policy)."""
    return [edge for edge in delivery_graph(index).delivering() if edge.service != CLOUDWATCH]


def _delivery_authorised(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Each delivering edge's destination admits its service principal, and its key lets it encrypt."""
    not_known = False
    for edge in service_edges(index):
        decision = authorise(index, edge)
        if decision.allowed is False:
            yield (f"{edge.describe()} ({edge.service}): {decision.reason}. {decision.fix}", edge.urn)
        not_known = not_known or decision.kind == "not-known-yet"
    if not_known:
        known(UNKNOWN, "policy")


delivery_authorised = StackValidationPolicy(
    name="delivery-authorised",
    description="Every delivery hop (S3 → SQS/SNS, SNS → SQS, EventBridge → SQS/SNS) is allowed by the "
    "destination's resource policy for that service principal and source (aws:SourceArn/aws:SourceAccount), "
    "with no explicit Deny, and an encrypted destination uses a KMS key that service may use (never the "
    "AWS-managed alias/aws/sqs or alias/aws/sns). Fix: a policy statement for the service and source, and a "
    "customer-managed key granting it kms:GenerateDataKey* and kms:Decrypt.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_delivery_authorised),
    remediation_steps='Add to the queue or topic policy: Effect Allow, Principal {"Service": <sender>}, Action '
    "sqs:SendMessage (or sns:Publish), Resource its ARN, Condition ArnEquals aws:SourceArn = the sender's ARN; "
    "encrypt with SSE-SQS or a customer-managed key whose policy grants the sender kms:GenerateDataKey* and "
    "kms:Decrypt.",
    url=GRANT_DOC,
)

DELIVERY_POLICIES = [delivery_authorised]
