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
from .values import (
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
        return {**_plain_props(args.props), "sqsManagedSseEnabled": True}
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

PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _bucket_names(bucket: Any) -> list[Any]:
    return [peek(bucket.props, "bucket"), peek(bucket.props, "id"), bucket.name]


def _bucket_label(bucket: Any) -> str:
    name = peek(bucket.props, "bucket")
    return str(name) if isinstance(name, str) and not is_unknown(name) else bucket.name


def _plain_props(props: Any) -> dict[str, Any]:
    target = props["__target"] if not isinstance(props, dict) else props
    return dict(target)


S3_BPA_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"


def _check_public_access_blocked(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Block Public Access settings set to false let public ACLs and policies apply
    (access-control-block-public-access.html). A bucket without a block gets all four on by default since
    April 2023 (see `aws-secure-defaults-relied-on`); only turning them off is judged here."""
    index = index_stack(args.resources)
    for bucket in index.buckets:
        for block in index.attached(PUBLIC_ACCESS_BLOCK, _bucket_names(bucket), bucket.urn):
            off = [
                key
                for key in PUBLIC_ACCESS_SETTINGS
                if peek(block.props, key) is not True and not is_unknown(peek(block.props, key))
            ]
            if off:
                report_violation(
                    f"bucket {_bucket_label(bucket)}: public access block {block.name} leaves {', '.join(off)} "
                    "off, so a public ACL or bucket policy on it takes effect and its objects can be read by "
                    "anyone. Set all four settings True.",
                    block.urn,
                )


s3_public_access_blocked = StackValidationPolicy(
    name="s3-public-access-blocked",
    description="No S3 bucket turns Block Public Access settings off. Fix: set all four settings of its "
    "aws.s3.BucketPublicAccessBlock True.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_public_access_blocked,
    remediation_steps="Set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets True.",
    url=S3_BPA_DOC,
)


S3_TLS_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"


def denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        condition = statement.get("Condition") or {}
        secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def _check_tls_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """S3 accepts plain HTTP unless a bucket policy denies aws:SecureTransport=false; AWS's default has not
    changed, so this stays mandatory (security-best-practices.html, "Enforce encryption of data in transit")."""
    index = index_stack(args.resources)
    for bucket in index.buckets:
        policies = index.attached(BUCKET_POLICY, _bucket_names(bucket), bucket.urn)
        documents = [peek(policy.props, "policy") for policy in policies] + [peek(bucket.props, "policy")]
        if any(is_unknown(document) for document in documents):
            continue  # a policy exists whose text is not known yet: cannot decide
        if not any(document and denies_insecure_transport(json_document(document)) for document in documents):
            report_violation(
                f"bucket {_bucket_label(bucket)} accepts plain-HTTP requests (S3's default), so its objects and "
                "credentials can cross the network unencrypted. Add a bucket policy statement that denies s3:* "
                'when {"Bool": {"aws:SecureTransport": "false"}}.',
                bucket.urn,
            )


s3_tls_only = StackValidationPolicy(
    name="s3-tls-only",
    description="Every S3 bucket refuses plain HTTP. Fix: add a bucket policy statement denying s3:* when "
    "aws:SecureTransport is false.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_tls_only,
    remediation_steps='Add an aws.s3.BucketPolicy statement: Effect Deny, Principal "*", Action s3:*, Resource the '
    'bucket and bucket/*, Condition {"Bool": {"aws:SecureTransport": "false"}}.',
    url=S3_TLS_DOC,
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

IMDS_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html"
IMDS_SCHEMA = schema(
    maxHttpPutResponseHopLimit={
        "type": "integer",
        "minimum": 1,
        "maximum": 64,
        "default": 1,
        "description": "Largest allowed metadataOptions.httpPutResponseHopLimit (AWS recommends 1; 2 for "
        "containers on the instance that need instance credentials).",
    }
)
# Launch configurations (deprecated, still used by older Auto Scaling groups) carry the same metadata options.
EC2_METADATA_TYPES = (
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchConfiguration:LaunchConfiguration",
)


def _check_imdsv2(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """IMDSv1 answers unauthenticated GETs, the path SSRF uses to steal instance credentials; a hop limit
    above 1 lets containers and forwarded requests reach the tokens (configuring-IMDS-new-instances.html)."""
    if args.resource_type not in EC2_METADATA_TYPES:
        return
    options = peek(args.props, "metadataOptions") or {}
    tokens = peek(options, "httpTokens")
    if known(tokens, "metadataOptions", "httpTokens") != "required":
        report_violation(
            f"{args.name} allows IMDSv1 (httpTokens is {tokens!r}; unset means the AMI's or account's default, "
            "'optional' for most AMIs): any request that reaches 169.254.169.254 reads the instance's "
            "credentials. Set metadataOptions.httpTokens='required'."
        )
    hops = peek(options, "httpPutResponseHopLimit")
    limit = as_number(setting(args, IMDS_SCHEMA, "maxHttpPutResponseHopLimit"))
    if not is_unknown(hops) and as_number(hops) is not None and limit is not None and as_number(hops) > limit:
        report_violation(
            f"{args.name} sets metadataOptions.httpPutResponseHopLimit={as_number(hops):g}: IMDSv2 tokens travel "
            f"{as_number(hops):g} network hops, into containers and through forwarding proxies. Set it to "
            f"{limit:g} (AWS recommends 1, or 2 for containers that need the instance role)."
        )


def _remediate_imdsv2(args: ResourceValidationArgs) -> dict[str, Any] | None:
    if args.resource_type not in EC2_METADATA_TYPES:
        return None
    options = dict(_plain_props(peek(args.props, "metadataOptions") or {}))
    if options.get("httpTokens") == "required":
        return None
    return {**_plain_props(args.props), "metadataOptions": {**options, "httpTokens": "required"}}


launch_template_imdsv2 = ResourceValidationPolicy(
    name="launch-template-imdsv2",
    description="Launch templates and instances require IMDSv2 with a hop limit no larger than configured. Fix: "
    "metadataOptions.httpTokens='required', httpPutResponseHopLimit 1.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=IMDS_SCHEMA,
    validate=_check_imdsv2,
    remediate=_remediate_imdsv2,
    remediation_steps="Set metadataOptions = {httpTokens: 'required', httpPutResponseHopLimit: 1, httpEndpoint: "
    "'enabled'} on the launch template or instance.",
    url=IMDS_DOC,
)

OPEN_CIDRS = {"0.0.0.0/0", "::/0"}
INGRESS_SCHEMA = schema(
    publicPorts={
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": 65535},
        "default": [80, 443],
        "description": "Single ports a security group may open to the internet (a public load balancer's "
        "listeners); any other port or range open to 0.0.0.0/0 or ::/0 is a violation.",
    }
)
SG_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"


def _open_ingress(args: ResourceValidationArgs) -> list[tuple[str, float | None, float | None]]:
    """(cidr, from port, to port) of each rule of the resource open to the internet."""
    props = args.props

    def ports(rule: Any, low: str, high: str) -> tuple[float | None, float | None]:
        return as_number(peek(rule, low)), as_number(peek(rule, high))

    found = []
    if args.resource_type == "aws:ec2/securityGroup:SecurityGroup":
        for rule in elements(peek(props, "ingress")):
            for key in ("cidrBlocks", "ipv6CidrBlocks"):
                found += [
                    (str(c), *ports(rule, "fromPort", "toPort"))
                    for c in elements(peek(rule, key))
                    if str(c) in OPEN_CIDRS
                ]
    elif (
        args.resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule"
        and peek(props, "type") == "ingress"
    ):
        for key in ("cidrBlocks", "ipv6CidrBlocks"):
            found += [
                (str(c), *ports(props, "fromPort", "toPort"))
                for c in elements(peek(props, key))
                if str(c) in OPEN_CIDRS
            ]
    elif args.resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        found += [
            (str(peek(props, key)), *ports(props, "fromPort", "toPort"))
            for key in ("cidrIpv4", "cidrIpv6")
            if str(peek(props, key)) in OPEN_CIDRS
        ]
    return found


def _check_no_open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A security group rule with 0.0.0.0/0 or ::/0 admits the whole internet (security-group-rules.html)."""
    open_rules = _open_ingress(args)
    if not open_rules:
        return
    public_ports = {int(p) for p in setting(args, INGRESS_SCHEMA, "publicPorts") or []}
    for cidr, low, high in open_rules:
        if low is not None and high is not None and low == high and int(low) in public_ports:
            continue  # one listener port of a public endpoint
        span = (
            "all ports"
            if low is None or (low <= 0 and (high is None or high >= 65535))
            else (f"port {low:g}" if low == high else f"ports {low:g}-{high:g}")
        )
        report_violation(
            f"{args.name} admits ingress from {cidr} on {span}: anyone on the internet can reach whatever "
            "listens there. Remove the rule (SSM Session Manager replaces SSH) or restrict its source."
        )


no_open_ingress = ResourceValidationPolicy(
    name="no-open-ingress",
    description="No security group admits the internet (0.0.0.0/0, ::/0) except on a configured public listener "
    "port. Fix: remove the rule (SSM replaces SSH) or restrict its source.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=INGRESS_SCHEMA,
    validate=_check_no_open_ingress,
    remediation_steps="Delete the ingress rule or replace 0.0.0.0/0 with the CIDR or security group that needs it.",
    url=SG_DOC,
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


def _check_long_polling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Short polling answers from a subset of servers and bills every empty receive (sqs-short-and-long-polling)."""
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
                f"queue {queue.label}: receiveWaitTimeSeconds is {wait_seconds:g}; short polling returns empty "
                f"responses that are billed and may miss messages. Set receiveWaitTimeSeconds to {minimum:g}..20.",
                queue.resource.urn,
            )


work_queue_long_polling = StackValidationPolicy(
    name="work-queue-long-polling",
    description="Work queues use long polling. Fix: set receiveWaitTimeSeconds to at least minReceiveWaitTimeSeconds (max 20).",
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=LONG_POLLING_SCHEMA,
    validate=_check_long_polling,
    remediation_steps="Set receiveWaitTimeSeconds=20 on the queue.",
    url=LONG_POLLING_DOC,
)

# --- settings left to AWS's defaults, which are now secure ---------------------------------------------

SECURE_DEFAULTS = {
    "sqs": "SSE-SQS is on by default for queues created since October 2022 (SQS announcement, 2022-10); a queue "
    "created earlier and adopted into the stack keeps no encryption",
    "s3-public-access": "S3 turns all four Block Public Access settings on (and ACLs off) for every new bucket "
    "since April 2023",
}
S3_DEFAULT_ENCRYPTION_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html"
)


def _check_secure_defaults(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Settings left undeclared where AWS's current default is secure for new resources only: SSE-SQS on
    queues created since October 2022 (sqs-server-side-encryption.html) and Block Public Access on buckets
    created since April 2023 (access-control-block-public-access.html). S3 default encryption needs no
    note: since 5 January 2023 S3 applies SSE-S3 to every bucket, existing ones included
    (default-encryption-faq.html), so an undeclared setting is never unencrypted."""
    index = index_stack(args.resources)
    for queue in index.queues:
        sse = queue.prop("sqsManagedSseEnabled")
        if sse is None and not queue.prop("kmsMasterKeyId"):
            report_violation(
                f"queue {queue.label} does not declare its encryption at rest and relies on AWS's default: "
                f"{SECURE_DEFAULTS['sqs']}. Declare sqsManagedSseEnabled=True to make it explicit.",
                queue.resource.urn,
            )
    for bucket in index.buckets:
        names = _bucket_names(bucket)
        label = _bucket_label(bucket)
        if not index.attached(PUBLIC_ACCESS_BLOCK, names, bucket.urn):
            report_violation(
                f"bucket {label} declares no public access block and relies on AWS's default: "
                f"{SECURE_DEFAULTS['s3-public-access']}; a bucket created earlier or an account that changed "
                "the default stays open. Declare an aws.s3.BucketPublicAccessBlock with all four settings True.",
                bucket.urn,
            )


aws_secure_defaults_relied_on = StackValidationPolicy(
    name="aws-secure-defaults-relied-on",
    description="Notes settings a program leaves to AWS's defaults where the default is now secure only for new "
    "resources (SSE-SQS on queues, Block Public Access on buckets), naming the default and when it changed. Fix: "
    "declare the setting.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_check_secure_defaults,
    remediation_steps="Declare sqsManagedSseEnabled=True on the queue and an aws.s3.BucketPublicAccessBlock with all "
    "four settings True on the bucket.",
    url=S3_BPA_DOC,
)

SECURITY_POLICIES = [
    sqs_encryption_at_rest,
    s3_public_access_blocked,
    s3_tls_only,
    queue_policy_source_conditions,
    launch_template_imdsv2,
    no_open_ingress,
    work_queue_long_polling,
    aws_secure_defaults_relied_on,
]
