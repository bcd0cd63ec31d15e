"""ECS cluster whose capacity is an Auto Scaling group of ECS-optimized instances."""

import base64
import json

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
instance_type = config.get("instanceType") or "t3.medium"
desired = config.get_int("desiredCapacity") or 2
subnet_ids = config.get_object("subnetIds")

# The ECS-optimized AMI as AWS publishes it, and an Amazon Linux 2023 AMI for a bastion.
ecs_ami_id = aws.ssm.get_parameter(
    name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
).value
bastion_ami = aws.ec2.get_ami(
    most_recent=True,
    owners=["amazon"],
    filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-2023.*-x86_64"])],
)
vpc = aws.ec2.get_vpc(default=True)
if not subnet_ids:
    subnet_ids = aws.ec2.get_subnets(
        filters=[aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc.id])]
    ).ids

cluster = aws.ecs.Cluster("cluster")

instance_role = aws.iam.Role(
    "ecs-instance",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    ),
)
aws.iam.RolePolicyAttachment(
    "ecs-instance",
    role=instance_role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
)
profile = aws.iam.InstanceProfile("ecs-instance", role=instance_role.name)

security_group = aws.ec2.SecurityGroup(
    "ecs-instances",
    vpc_id=vpc.id,
    egress=[
        aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"])
    ],
)

user_data = cluster.name.apply(
    lambda name: base64.b64encode(
        f"#!/bin/bash\necho ECS_CLUSTER={name} >> /etc/ecs/ecs.config\n".encode()
    ).decode()
)
launch_template = aws.ec2.LaunchTemplate(
    "ecs",
    image_id=ecs_ami_id,
    instance_type=instance_type,
    iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
    vpc_security_group_ids=[security_group.id],
    user_data=user_data,
    metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required"),
)
group = aws.autoscaling.Group(
    "ecs",
    min_size=1,
    max_size=desired * 2,
    desired_capacity=desired,
    vpc_zone_identifiers=subnet_ids,
    launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=launch_template.id, version="$Latest"),
    tags=[aws.autoscaling.GroupTagArgs(key="AmazonECSManaged", value="true", propagate_at_launch=True)],
)
capacity = aws.ecs.CapacityProvider(
    "ecs",
    auto_scaling_group_provider=aws.ecs.CapacityProviderAutoScalingGroupProviderArgs(
        auto_scaling_group_arn=group.arn,
        managed_scaling=aws.ecs.CapacityProviderAutoScalingGroupProviderManagedScalingArgs(
            status="ENABLED", target_capacity=100
        ),
    ),
)
aws.ecs.ClusterCapacityProviders("ecs", cluster_name=cluster.name, capacity_providers=[capacity.name])

bastion = aws.ec2.Instance(
    "bastion",
    ami=bastion_ami.id,
    instance_type="t3.micro",
    subnet_id=subnet_ids[0],
    metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
)

pulumi.export("clusterArn", cluster.arn)
pulumi.export("amiId", ecs_ami_id)
pulumi.export("bastionAmi", bastion_ami.name)
pulumi.export("bastionIp", bastion.private_ip)
