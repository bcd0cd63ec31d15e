"""The worker fleet: role, security group, launch template and an Auto Scaling Group that rolls new
workers out canary-first and rolls back by itself.

Replaces the incident's manual rollout (SSH into a canary, copy the fixed worker, restart, watch,
repeat). A new bundle hash changes the launch template's user data, so `pulumi up` makes a new
launch template version; the ASG's instance refresh then replaces one instance (the canary), waits
at the checkpoint, and continues, never dropping below full capacity, and rolls back on its own
when a rollout alarm fires or a new instance's bootstrap fails (components/host_bootstrap.py).
The role's documents live in components/worker_iam.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.file_event_pipeline import FileEventPipeline
from components.host_bootstrap import (
    BOOTSTRAP_TIMEOUT_SECONDS,
    DRAIN_HOOK_NAME,
    SHUTDOWN_MARGIN_SECONDS,
    WORKER_READY_HOOK_NAME,
    user_data_script,
    worker_environment,
)
from components.settings import FleetSettings, PipelineSettings
from components.worker_bundle import WorkerBundle
from components.worker_iam import EC2_ASSUME_ROLE_POLICY, group_arn, worker_policy_document

SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass
class WorkerFleetArgs:
    settings: PipelineSettings
    """The pipeline's validated settings: processing timeout, prefixes, metric namespace."""
    fleet: FleetSettings
    """The fleet's validated settings: group name, sizes, instance type, rollout timing."""
    pipeline: FileEventPipeline
    """The queues and buckets the workers consume and write."""
    bundle: WorkerBundle
    """The worker bundle the instances install, by its hash."""
    subnet_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    rollout_alarm_names: pulumi.Input[list[str]] = field(default_factory=list)
    """Alarms that stop and roll back an instance refresh (supplied by PipelineAlarms)."""


def backlog_per_instance_metrics(queue_name: str, group_name: str) -> list[dict]:
    """Target-tracking metric math: visible messages / in-service instances."""
    return [
        {
            "id": "visible",
            "label": "Visible messages",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/SQS",
                    "metric_name": "ApproximateNumberOfMessagesVisible",
                    "dimensions": [{"name": "QueueName", "value": queue_name}],
                },
                "stat": "Sum",
            },
            "return_data": False,
        },
        {
            "id": "in_service",
            "label": "In-service instances",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/AutoScaling",
                    "metric_name": "GroupInServiceInstances",
                    "dimensions": [{"name": "AutoScalingGroupName", "value": group_name}],
                },
                "stat": "Average",
            },
            "return_data": False,
        },
        {
            "id": "backlog_per_instance",
            "label": "Backlog per instance",
            "expression": "visible / in_service",
            "return_data": True,
        },
    ]


class WorkerFleet(pulumi.ComponentResource):
    role: aws.iam.Role
    security_group: aws.ec2.SecurityGroup
    launch_template: aws.ec2.LaunchTemplate
    group: aws.autoscaling.Group

    def __init__(self, name: str, args: WorkerFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cis:fleet:WorkerFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        profile = self._identity(name, args, child)
        self._instances(name, args, profile, child)
        self._group(name, args, child)
        self._scaling(name, args, child)
        self.register_outputs(
            {
                "groupName": self.group.name,
                "launchTemplateId": self.launch_template.id,
                "roleArn": self.role.arn,
            }
        )

    def _identity(
        self, name: str, args: WorkerFleetArgs, child: pulumi.ResourceOptions
    ) -> aws.iam.InstanceProfile:
        """The workers' role (least privilege, components/worker_iam.py) and instance profile."""
        settings, fleet, pipeline, bundle = args.settings, args.fleet, args.pipeline, args.bundle
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(EC2_ASSUME_ROLE_POLICY),
            description="CIS file-processor workers: consume the work queue, index uploads",
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                queue_arn=pipeline.queue.arn,
                dlq_arn=pipeline.dead_letter_queue.arn,
                upload_bucket=pipeline.upload_bucket.bucket,
                index_bucket=pipeline.index_bucket.bucket,
                bundle_bucket=bundle.bucket.bucket,
                region=args.region,
                account_id=args.account_id,
            ).apply(
                lambda values: json.dumps(
                    worker_policy_document(
                        queue_arn=values["queue_arn"],
                        dlq_arn=values["dlq_arn"],
                        upload_bucket=values["upload_bucket"],
                        upload_prefix=settings.upload_prefix,
                        index_bucket=values["index_bucket"],
                        index_prefix=settings.index_prefix,
                        bundle_bucket=values["bundle_bucket"],
                        bundle_key=bundle.key,
                        metric_namespace=settings.metric_namespace,
                        group_arn=group_arn(values["region"], values["account_id"], fleet.worker_group_name),
                    )
                )
            ),
            opts=child,
        )
        # Session Manager instead of SSH: no key pairs, no inbound port, every session audited.
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm", role=self.role.name, policy_arn=SSM_MANAGED_POLICY, opts=child
        )
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=self.role.name, opts=child)

        return profile

    def _instances(
        self,
        name: str,
        args: WorkerFleetArgs,
        profile: aws.iam.InstanceProfile,
        child: pulumi.ResourceOptions,
    ) -> None:
        """No inbound traffic, IMDSv2 only, encrypted disk; user data from components/host_bootstrap.py."""
        settings, fleet, pipeline, bundle = args.settings, args.fleet, args.pipeline, args.bundle
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description="CIS file-processor workers: no inbound traffic; HTTPS out to AWS APIs",
            ingress=[],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                    description="AWS APIs",
                )
            ],
            opts=child,
        )

        user_data = pulumi.Output.all(
            queue_url=pipeline.queue.url,
            dlq_url=pipeline.dead_letter_queue.url,
            index_bucket=pipeline.index_bucket.bucket,
            bundle_bucket=bundle.bucket.bucket,
            region=args.region,
        ).apply(
            lambda values: user_data_script(
                worker_environment(
                    settings,
                    fleet,
                    queue_url=values["queue_url"],
                    dlq_url=values["dlq_url"],
                    index_bucket=values["index_bucket"],
                    region=values["region"],
                ),
                bundle_bucket=values["bundle_bucket"],
                bundle_key=bundle.key,
                bundle_sha256=bundle.sha256,
            )
        )
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            image_id=args.ami_id,
            instance_type=fleet.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            vpc_security_group_ids=[self.security_group.id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        encrypted="true", volume_type="gp3", volume_size=50, delete_on_termination="true"
                    ),
                )
            ],
            user_data=user_data.apply(lambda text: base64.b64encode(text.encode()).decode()),
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(
                    resource_type="instance",
                    tags={"Name": fleet.worker_group_name, "WorkerBundle": bundle.sha256},
                )
            ],
            opts=child,
        )

    def _group(self, name: str, args: WorkerFleetArgs, child: pulumi.ResourceOptions) -> None:
        """The group, its canary-first instance refresh, and the launch and termination lifecycle hooks."""
        settings, fleet = args.settings, args.fleet
        alarm_specification = pulumi.Output.from_input(args.rollout_alarm_names).apply(
            lambda names: (
                aws.autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs(alarms=list(names))
                if names
                else None
            )
        )
        # New instances wait in Pending:Wait until their bootstrap has the worker running; a failed or
        # timed-out bootstrap abandons the launch (components/host_bootstrap.py). Declared on the group so
        # its very first instances wait too, and as a resource below so an existing group gets it.
        worker_ready_hook = {
            "name": WORKER_READY_HOOK_NAME,
            "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "heartbeat_timeout": BOOTSTRAP_TIMEOUT_SECONDS,
            "default_result": "ABANDON",
        }
        self.group = aws.autoscaling.Group(
            f"{name}-group",
            name=fleet.worker_group_name,
            vpc_zone_identifiers=args.subnet_ids,
            min_size=fleet.min_workers,
            max_size=fleet.max_workers,
            desired_capacity=fleet.desired_workers,
            health_check_type="EC2",
            default_instance_warmup=fleet.instance_warmup_seconds,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            initial_lifecycle_hooks=[aws.autoscaling.GroupInitialLifecycleHookArgs(**worker_ready_hook)],
            enabled_metrics=["GroupInServiceInstances", "GroupDesiredCapacity", "GroupTotalInstances"],
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    checkpoint_percentages=sorted({fleet.canary_percentage, 100}),
                    checkpoint_delay=str(fleet.canary_checkpoint_delay_seconds),
                    instance_warmup=str(fleet.instance_warmup_seconds),
                    min_healthy_percentage=100,
                    max_healthy_percentage=200,
                    auto_rollback=True,
                    skip_matching=True,
                    alarm_specification=alarm_specification,
                ),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(
                    key="Name", value=fleet.worker_group_name, propagate_at_launch=True
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
        )
        aws.autoscaling.LifecycleHook(
            f"{name}-worker-ready",
            autoscaling_group_name=self.group.name,
            **worker_ready_hook,
            opts=child,
        )
        aws.autoscaling.LifecycleHook(
            f"{name}-drain-on-termination",
            name=DRAIN_HOOK_NAME,
            autoscaling_group_name=self.group.name,
            lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
            heartbeat_timeout=settings.max_processing_seconds + 2 * SHUTDOWN_MARGIN_SECONDS,
            default_result="CONTINUE",
            opts=child,
        )

    def _scaling(self, name: str, args: WorkerFleetArgs, child: pulumi.ResourceOptions) -> None:
        """Target tracking on visible messages per in-service instance."""
        fleet, pipeline = args.fleet, args.pipeline
        self.scaling_policy = aws.autoscaling.Policy(
            f"{name}-backlog-per-instance",
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                target_value=fleet.backlog_per_instance_target,
                customized_metric_specification=pulumi.Output.all(
                    queue_name=pipeline.queue.name, group_name=self.group.name
                ).apply(
                    lambda values: {
                        "metrics": backlog_per_instance_metrics(values["queue_name"], values["group_name"])
                    }
                ),
            ),
            opts=child,
        )
