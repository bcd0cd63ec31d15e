"""The workers' private path to AWS (workerNetworkEgress=vpc-endpoints): no NAT, no internet.

An S3 gateway endpoint on the private route tables carries the bundle download (`aws s3 cp`), the
worker's reads and writes, and dnf: Amazon Linux 2023's repositories are S3 buckets in the region
(dnf resolves al2023-repos-ap-northeast-1-de612dc2.s3.dualstack.ap-northeast-1.amazonaws.com, as seen in
https://github.com/shamimice03/aws-secure-env), which the gateway endpoint reaches. Every other API the
worker and its bootstrap call gets an interface endpoint with private DNS, so the default SDK and CLI
hostnames resolve to it, behind a security group that admits 443 from the workers' group only
(https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html). Private DNS
needs the VPC's enableDnsSupport and enableDnsHostnames.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

GATEWAY_SERVICES: dict[str, str] = {
    "s3": "bootstrap: aws s3 cp of the bundle, dnf's repositories; worker: GetObject, PutObject (worker/indexer.py)",
}
"""Endpoint service suffix -> who calls it. S3 through a gateway endpoint: no hourly or per-GB charge."""

INTERFACE_SERVICES: dict[str, str] = {
    "sqs": "worker: ReceiveMessage, DeleteMessageBatch, ChangeMessageVisibility, SendMessage to the DLQ",
    "monitoring": "worker: PutMetricData (worker/metrics.py); CloudWatch's endpoint service is 'monitoring'",
    "autoscaling": "bootstrap: complete-lifecycle-action, set-instance-health; drain watcher (worker/drain.py)",
    "ssm": "Session Manager, the fleet's only way in (the role's AmazonSSMManagedInstanceCore)",
    "ssmmessages": "Session Manager's session channels",
    "ec2messages": "SSM Agent's fallback message channel",
}
"""Endpoint service suffix -> who calls it; the boto3 clients and CLI calls in worker/ and
components/host_bootstrap.py (a test keeps the two in step). Session Manager's three endpoints:
https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-setting-up-messageAPIs.html"""

HTTPS_PORT = 443


def service_name(region: str, service: str) -> str:
    """`com.amazonaws.ap-northeast-1.sqs`: the endpoint service of an AWS API in the region."""
    return f"com.amazonaws.{region}.{service}"


@dataclass
class WorkerEndpointsArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    """The workers' private subnets (one per Availability Zone): each interface endpoint gets an ENI in each."""
    route_table_ids: pulumi.Input[list[str]]
    """The private subnets' route tables: the S3 gateway endpoint adds its prefix-list route to each."""
    worker_security_group_id: pulumi.Input[str]
    """The only source the endpoints admit."""
    region: pulumi.Input[str]


class WorkerEndpoints(pulumi.ComponentResource):
    """The S3 gateway endpoint and one interface endpoint per API in INTERFACE_SERVICES."""

    security_group: aws.ec2.SecurityGroup
    gateway: dict[str, aws.ec2.VpcEndpoint]
    interfaces: dict[str, aws.ec2.VpcEndpoint]

    def __init__(
        self, name: str, args: WorkerEndpointsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cis:fleet:WorkerEndpoints", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region = pulumi.Output.from_input(args.region)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="CIS file-processor VPC endpoints: HTTPS from the workers only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=HTTPS_PORT,
                    to_port=HTTPS_PORT,
                    security_groups=[args.worker_security_group_id],
                    description="AWS API calls from the workers",
                )
            ],
            egress=[],
            opts=child,
        )
        self.gateway = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=args.vpc_id,
                service_name=region.apply(lambda value, service=service: service_name(value, service)),
                vpc_endpoint_type="Gateway",
                route_table_ids=args.route_table_ids,
                opts=child,
            )
            for service in GATEWAY_SERVICES
        }
        self.interfaces = {
            service: aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=args.vpc_id,
                service_name=region.apply(lambda value, service=service: service_name(value, service)),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=args.subnet_ids,
                security_group_ids=[self.security_group.id],
                opts=child,
            )
            for service in INTERFACE_SERVICES
        }
        self.register_outputs({"securityGroupId": self.security_group.id})
