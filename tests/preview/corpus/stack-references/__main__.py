"""Application resources placed in the VPC another stack owns (outputs read by StackReference)."""

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
network = pulumi.StackReference(config.require("networkStack"))

vpc_id = network.require_output("vpcId")
private_subnet_ids = network.get_output("privateSubnetIds")

app_security_group = aws.ec2.SecurityGroup(
    "app",
    vpc_id=vpc_id,
    ingress=[
        aws.ec2.SecurityGroupIngressArgs(
            protocol="tcp", from_port=443, to_port=443, cidr_blocks=["10.0.0.0/8"]
        )
    ],
)
aws.lb.LoadBalancer(
    "app",
    internal=True,
    load_balancer_type="application",
    security_groups=[app_security_group.id],
    subnets=private_subnet_ids,
)
aws.ssm.Parameter(
    "db-password",
    type="SecureString",
    value=network.require_output("dbPassword"),
)

pulumi.export("vpcId", vpc_id)
pulumi.export("firstSubnet", private_subnet_ids.apply(lambda ids: ids[0]))
