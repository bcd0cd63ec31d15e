"""The security basics: encrypted queues, private TLS-only buckets, conditioned service principals,
IMDSv2, no open ingress, and long polling on work queues."""

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
    BUCKET_POLICY,
    PUBLIC_ACCESS_BLOCK,
    QUEUE,
    QUEUE_POLICY,
    SQS_DEFAULT_RECEIVE_WAIT_SECONDS,
    index_stack,
)
from .values import as_list, as_number, elements, is_unknown, json_document, known, peek, statements


def _check_sqs_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != QUEUE:
        return
    if peek(args.props, "sqsManagedSseEnabled") is True or peek(args.props, "kmsMasterKeyId"):
        return
    report_violation(
        f"queue {args.name} is not encrypted at rest. Set sqsManagedSseEnabled=True (SSE-SQS; S3 can publish to "
        "it) or kmsMasterKeyId (a customer managed key that grants s3.amazonaws.com)."
    )


sqs_encryption_at_rest = ResourceValidationPolicy(
    name="sqs-encryption-at-rest",
    description="SQS queues are encrypted at rest. Fix: set sqsManagedSseEnabled=True or a kmsMasterKeyId.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_sqs_encrypted,
)

PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _bucket_names(bucket: Any) -> list[Any]:
    return [peek(bucket.props, "bucket"), peek(bucket.props, "id"), bucket.name]


def _fully_blocked(block: Any) -> bool:
    values = [peek(block.props, key) for key in PUBLIC_ACCESS_SETTINGS]
    return all(value is True or is_unknown(value) for value in values)


def _check_public_access_blocked(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    for bucket in index.buckets:
        blocks = index.attached(PUBLIC_ACCESS_BLOCK, _bucket_names(bucket), bucket.urn)
        complete = [block for block in blocks if _fully_blocked(block)]
        if not complete:
            report_violation(
                f"bucket {peek(bucket.props, 'bucket') or bucket.name} has no public access block with all four "
                f"settings true ({', '.join(PUBLIC_ACCESS_SETTINGS)}). Add an aws.s3.BucketPublicAccessBlock.",
                bucket.urn,
            )


s3_public_access_blocked = StackValidationPolicy(
    name="s3-public-access-blocked",
    description="Every S3 bucket has a public access block. Fix: add an aws.s3.BucketPublicAccessBlock with all four "
    "settings True.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_public_access_blocked,
)


def denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        condition = statement.get("Condition") or {}
        secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def _check_tls_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    for bucket in index.buckets:
        policies = index.attached(BUCKET_POLICY, _bucket_names(bucket), bucket.urn)
        documents = [peek(policy.props, "policy") for policy in policies] + [peek(bucket.props, "policy")]
        if any(is_unknown(document) for document in documents):
            continue  # a policy exists whose text is not known yet: cannot decide
        if not any(document and denies_insecure_transport(json_document(document)) for document in documents):
            report_violation(
                f"bucket {peek(bucket.props, 'bucket') or bucket.name} accepts plain-HTTP requests. Add a bucket "
                'policy statement that denies s3:* when {"Bool": {"aws:SecureTransport": "false"}}.',
                bucket.urn,
            )


s3_tls_only = StackValidationPolicy(
    name="s3-tls-only",
    description="Every S3 bucket refuses plain HTTP. Fix: add a bucket policy statement denying s3:* when "
    "aws:SecureTransport is false.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_tls_only,
)

SOURCE_CONDITION_KEYS = {"aws:sourcearn", "aws:sourceaccount"}


def unconditioned_service_grants(document: Any) -> list[str]:
    """Service principals (or '*') allowed by a resource policy without aws:SourceArn/aws:SourceAccount."""
    found = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*"):
            principals = ["*"]
        elif isinstance(principal, dict):
            principals = [str(service) for service in as_list(principal.get("Service"))]
        else:
            principals = []
        conditions = statement.get("Condition") or {}
        keys = {
            key.lower() for operator in conditions.values() if isinstance(operator, dict) for key in operator
        }
        if principals and not keys & SOURCE_CONDITION_KEYS:
            found.extend(principals)
    return found


def _check_service_principal_conditions(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type not in (QUEUE_POLICY, QUEUE):
        return
    policy = peek(args.props, "policy")
    if not policy:
        return
    for principal in unconditioned_service_grants(json_document(policy, "policy")):
        report_violation(
            f"{args.name} lets {principal} send to the queue from any source. Add a Condition with aws:SourceArn "
            "(the bucket's ARN) and aws:SourceAccount (your account), so no other bucket can inject events."
        )


queue_policy_source_conditions = ResourceValidationPolicy(
    name="queue-policy-source-conditions",
    description="A queue policy allows a service principal only with an aws:SourceArn or aws:SourceAccount "
    "condition (no confused deputy, no events from other accounts' buckets). Fix: add both conditions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_service_principal_conditions,
)


def _check_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return
    tokens = peek(peek(args.props, "metadataOptions") or {}, "httpTokens")
    if known(tokens, "metadataOptions", "httpTokens") != "required":
        report_violation(
            f"{args.name} allows IMDSv1 (httpTokens is {tokens!r}). Set metadataOptions.httpTokens='required' "
            "(and httpPutResponseHopLimit=1) so instance credentials cannot be read by SSRF."
        )


launch_template_imdsv2 = ResourceValidationPolicy(
    name="launch-template-imdsv2",
    description="Launch templates and instances require IMDSv2. Fix: metadataOptions.httpTokens='required', hop limit 1.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_imdsv2,
)

OPEN_CIDRS = {"0.0.0.0/0", "::/0"}


def _open_ingress_cidrs(args: ResourceValidationArgs) -> list[str]:
    props = args.props
    if args.resource_type == "aws:ec2/securityGroup:SecurityGroup":
        rules = list(elements(peek(props, "ingress")))
        return [
            str(cidr)
            for rule in rules
            for key in ("cidrBlocks", "ipv6CidrBlocks")
            for cidr in elements(peek(rule, key))
            if str(cidr) in OPEN_CIDRS
        ]
    if (
        args.resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule"
        and peek(props, "type") == "ingress"
    ):
        return [
            str(cidr)
            for key in ("cidrBlocks", "ipv6CidrBlocks")
            for cidr in elements(peek(props, key))
            if str(cidr) in OPEN_CIDRS
        ]
    if args.resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        return [
            str(peek(props, key)) for key in ("cidrIpv4", "cidrIpv6") if str(peek(props, key)) in OPEN_CIDRS
        ]
    return []


def _check_no_open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for cidr in _open_ingress_cidrs(args):
        report_violation(
            f"{args.name} allows ingress from {cidr}. The workers need no inbound traffic (SSM Session Manager "
            "replaces SSH): remove the rule or restrict it to a known source."
        )


no_open_ingress = ResourceValidationPolicy(
    name="no-open-ingress",
    description="No security group admits ingress from 0.0.0.0/0 or ::/0. Fix: remove the rule (SSM replaces SSH) or "
    "restrict its source.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_no_open_ingress,
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


def _check_long_polling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = index_stack(args.resources)
    minimum = as_number(setting(args, LONG_POLLING_SCHEMA, "minReceiveWaitTimeSeconds"))
    for queue in index.work_queues:
        wait = queue.prop("receiveWaitTimeSeconds")
        if is_unknown(wait):
            continue
        wait_seconds = as_number(wait)
        wait_seconds = SQS_DEFAULT_RECEIVE_WAIT_SECONDS if wait_seconds is None else wait_seconds
        if minimum is not None and wait_seconds < minimum:
            report_violation(
                f"queue {queue.name}: receiveWaitTimeSeconds is {wait_seconds:g}; short polling costs a request "
                f"per empty poll. Set receiveWaitTimeSeconds to {minimum:g}..20.",
                queue.resource.urn,
            )


work_queue_long_polling = StackValidationPolicy(
    name="work-queue-long-polling",
    description="Work queues use long polling. Fix: set receiveWaitTimeSeconds to at least minReceiveWaitTimeSeconds (max 20).",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=LONG_POLLING_SCHEMA,
    validate=_check_long_polling,
)

SECURITY_POLICIES = [
    sqs_encryption_at_rest,
    s3_public_access_blocked,
    s3_tls_only,
    queue_policy_source_conditions,
    launch_template_imdsv2,
    no_open_ingress,
    work_queue_long_polling,
]
