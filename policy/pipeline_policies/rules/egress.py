"""Workers without a NAT path reach AWS only through the stack's VPC endpoints: one missing is an outage.

With workerNetworkEgress=vpc-endpoints the workers' private subnets have no route to the internet. An API
the worker or its bootstrap calls without an endpoint times out: S3 (the bundle, uploads, index, dnf's
repositories) needs the gateway endpoint on the private route tables; SQS, CloudWatch (`monitoring`) and
Auto Scaling (the lifecycle hooks) need interface endpoints with private DNS, or the SDK's default
hostnames resolve to public addresses the subnets cannot reach
(https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html). A stack with no
endpoint at all relies on a NAT path the pack cannot see and is not judged.

Self-contained (only pulumi_policy, no analysis of its own): `validate` is the policy's validate function;
`egress_endpoints_complete` is the policy, advisory.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

ENDPOINT_TYPE = "aws:ec2/vpcEndpoint:VpcEndpoint"
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"
INTERFACE_DOC = "https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html"
GATEWAY_APIS = {"s3": "the worker bundle, uploads and index documents, and dnf's repositories"}
INTERFACE_APIS = {
    "sqs": "receiving, deleting and dead-lettering messages",
    "monitoring": "the worker's CloudWatch metrics (PutMetricData)",
    "autoscaling": "completing the launch and termination lifecycle hooks",
}


def _get(props: Any, key: str) -> Any:
    """The property, or None when absent or not known during preview."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _service(endpoint: Any) -> str | None:
    name = _get(endpoint.props, "serviceName")
    return name.rsplit(".", 1)[-1] if isinstance(name, str) else None


def egress_findings(resources: list[Any]) -> list[tuple[str, str | None]]:
    """(message, urn) for each API the EC2 workers call that the stack's endpoints leave unreachable."""
    endpoints = [r for r in resources if r.resource_type == ENDPOINT_TYPE]
    if not endpoints or not any(r.resource_type == LAUNCH_TEMPLATE_TYPE for r in resources):
        return []  # a NAT path (invisible here), or no EC2 workers
    by_service: dict[str, Any] = {}
    for endpoint in endpoints:
        service = _service(endpoint)
        if service:
            by_service[service] = endpoint
    findings: list[tuple[str, str | None]] = []
    for service, use in GATEWAY_APIS.items():
        endpoint = by_service.get(service)
        if endpoint is None:
            findings.append(
                (
                    f"The stack declares VPC endpoints but none for {service}: without a NAT path {use} time out. "
                    f"Declare a Gateway endpoint for {service} on the private subnets' route tables.",
                    None,
                )
            )
        elif (
            _get(endpoint.props, "vpcEndpointType") == "Gateway"
            and _get(endpoint.props, "routeTableIds") == []
        ):
            findings.append(
                (
                    f"The {service} gateway endpoint {endpoint.name} is on no route table, so no subnet uses it: "
                    f"{use} time out. Set its route_table_ids to the private subnets' route tables.",
                    endpoint.urn,
                )
            )
    for service, use in INTERFACE_APIS.items():
        endpoint = by_service.get(service)
        if endpoint is None:
            findings.append(
                (
                    f"The stack declares VPC endpoints but none for {service}: without a NAT path {use} time out. "
                    f"Declare an Interface endpoint for {service} with private DNS ({INTERFACE_DOC}).",
                    None,
                )
            )
        elif (
            _get(endpoint.props, "vpcEndpointType") == "Interface"
            and _get(endpoint.props, "privateDnsEnabled") is not True
        ):
            findings.append(
                (
                    f"The {service} interface endpoint {endpoint.name} has private DNS off, so the SDK's default "
                    f"hostname still resolves to the public endpoint and {use} time out. Set "
                    f"private_dns_enabled=True ({INTERFACE_DOC}).",
                    endpoint.urn,
                )
            )
    return findings


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every API the EC2 workers call has a usable endpoint once the stack declares any."""
    for message, urn in egress_findings(list(args.resources)):
        report_violation(message, urn)


egress_endpoints_complete = StackValidationPolicy(
    name="egress-endpoints-complete",
    description="When the stack declares VPC endpoints for its EC2 workers (no NAT path), every API the worker "
    "and its bootstrap call has one: an S3 gateway endpoint on route tables, and SQS, CloudWatch and Auto Scaling "
    "interface endpoints with private DNS.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate,
    remediation_steps="Set workerNetworkEgress=vpc-endpoints (components/worker_endpoints.py declares them all), "
    "or declare the missing endpoint.",
    url=INTERFACE_DOC,
)
