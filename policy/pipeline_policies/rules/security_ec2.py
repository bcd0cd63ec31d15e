"""EC2 security: instances require IMDSv2, and no security group admits the internet."""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ..analysis.values import as_number, elements, is_unknown, known, peek
from .common import plain_props, schema, setting

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
    options = dict(plain_props(peek(args.props, "metadataOptions") or {}))
    if options.get("httpTokens") == "required":
        return None
    return {**plain_props(args.props), "metadataOptions": {**options, "httpTokens": "required"}}


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

EC2_SECURITY_POLICIES = [launch_template_imdsv2, no_open_ingress]
