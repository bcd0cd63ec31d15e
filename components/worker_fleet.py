"""The worker fleet: IAM, security group, launch template and an Auto Scaling Group that rolls new
workers out canary-first and rolls back by itself.

Replaces the incident's manual rollout (SSH into a canary, copy the fixed worker, restart, watch,
repeat). A new bundle hash changes the launch template's user data, so `pulumi up` makes a new
launch template version; the ASG's instance refresh then replaces one instance (the canary), waits
at the checkpoint, and continues, never dropping below full capacity, and rolls back on its own
when a rollout alarm fires.
"""

from __future__ import annotations

import base64
import json
import shlex
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.file_event_pipeline import FileEventPipeline
from components.settings import FleetSettings, PipelineSettings
from components.worker_bundle import WorkerBundle
from worker import contract

SERVICE = "file-processor"
ENVIRONMENT_FILE = contract.ENVIRONMENT_FILE
INSTALL_DIR = "/opt/file-processor"
SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
DRAIN_HOOK_NAME = "drain-on-termination"
SHUTDOWN_MARGIN_SECONDS = 60
"""Beyond the worker's grace period: systemd's stop timeout and the termination hook's heartbeat."""


@dataclass
class WorkerFleetArgs:
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    dlq_url: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    queue_name: pulumi.Input[str]
    upload_bucket: pulumi.Input[str]
    upload_prefix: str
    index_bucket: pulumi.Input[str]
    index_prefix: str
    processing_timeout_seconds: int
    metric_namespace: str
    bundle_bucket: pulumi.Input[str]
    bundle_key: str
    bundle_sha256: str
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    group_name: str
    """The ASG's physical name: fixed, so the user data can name it without a dependency cycle."""
    subnet_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    ami_id: pulumi.Input[str]
    instance_type: str
    min_size: int
    desired_capacity: int
    max_size: int
    worker_concurrency: int
    canary_percentage: int
    checkpoint_delay_seconds: int
    instance_warmup_seconds: int
    backlog_per_instance_target: int
    rollout_alarm_names: pulumi.Input[list[str]] = field(default_factory=list)
    """Alarms that stop and roll back an instance refresh (supplied by PipelineAlarms)."""

    @classmethod
    def from_settings(
        cls,
        settings: PipelineSettings,
        fleet: FleetSettings,
        pipeline: FileEventPipeline,
        bundle: WorkerBundle,
        **placement: pulumi.Input,
    ) -> WorkerFleetArgs:
        """One source of truth: every number and name comes from the settings the queue was built from."""
        return cls(
            queue_url=pipeline.queue.url,
            queue_arn=pipeline.queue.arn,
            dlq_url=pipeline.dead_letter_queue.url,
            dlq_arn=pipeline.dead_letter_queue.arn,
            queue_name=pipeline.queue.name,
            upload_bucket=pipeline.upload_bucket.bucket,
            upload_prefix=settings.upload_prefix,
            index_bucket=pipeline.index_bucket.bucket,
            index_prefix=settings.index_prefix,
            processing_timeout_seconds=settings.max_processing_seconds,
            metric_namespace=settings.metric_namespace,
            bundle_bucket=bundle.bucket.bucket,
            bundle_key=bundle.key,
            bundle_sha256=bundle.sha256,
            group_name=fleet.worker_group_name,
            instance_type=fleet.instance_type,
            min_size=fleet.min_workers,
            desired_capacity=fleet.desired_workers,
            max_size=fleet.max_workers,
            worker_concurrency=fleet.worker_concurrency,
            canary_percentage=fleet.canary_percentage,
            checkpoint_delay_seconds=fleet.canary_checkpoint_delay_seconds,
            instance_warmup_seconds=fleet.instance_warmup_seconds,
            backlog_per_instance_target=fleet.backlog_per_instance_target,
            **placement,
        )

    def __post_init__(self) -> None:
        if not 0 < self.canary_percentage <= 100:
            raise ValueError(f"canary_percentage ({self.canary_percentage}) must be within 1..100")
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ValueError(
                f"desired_capacity ({self.desired_capacity}) must lie between min_size ({self.min_size}) "
                f"and max_size ({self.max_size})"
            )


def worker_environment(
    queue_url: str,
    dlq_url: str,
    processing_timeout_seconds: int,
    metric_namespace: str,
    index_bucket: str,
    index_prefix: str,
    worker_concurrency: int,
    region: str,
    group_name: str,
) -> dict[str, str]:
    """The worker's EnvironmentFile (DESIGN contract 2), from the same settings as the queue."""
    return {
        "QUEUE_URL": queue_url,
        "DLQ_URL": dlq_url,
        "PROCESSING_TIMEOUT_SECONDS": str(processing_timeout_seconds),
        "METRIC_NAMESPACE": metric_namespace,
        "INDEX_BUCKET": index_bucket,
        "INDEX_PREFIX": index_prefix,
        "WORKER_CONCURRENCY": str(worker_concurrency),
        # A terminating instance lets its in-flight files finish: the grace covers the longest file.
        "SHUTDOWN_GRACE_SECONDS": str(processing_timeout_seconds),
        "AWS_DEFAULT_REGION": region,
        # For the drain watcher (worker/drain.py): which lifecycle action to complete.
        "AUTOSCALING_GROUP_NAME": group_name,
        "LIFECYCLE_HOOK_NAME": DRAIN_HOOK_NAME,
    }


def user_data_script(
    environment: dict[str, str], bundle_bucket: str, bundle_key: str, bundle_sha256: str, region: str
) -> str:
    """cloud-init user data: fetch the bundle at its hash, verify it, install it, write the
    EnvironmentFile, enable the service. Runs once per instance (new instances get new user data)."""
    grace = int(environment["SHUTDOWN_GRACE_SECONDS"])
    source = shlex.quote(f"s3://{bundle_bucket}/{bundle_key}")
    return f"""#!/bin/bash
# CIS file processor, worker bundle sha256={bundle_sha256}
set -euo pipefail
dnf install -y python3.11
id {SERVICE} >/dev/null 2>&1 || useradd --system --home-dir {INSTALL_DIR} --shell /sbin/nologin {SERVICE}
mkdir -p {INSTALL_DIR}
aws s3 cp --region {shlex.quote(region)} {source} /tmp/worker-bundle.tar.gz
echo "{bundle_sha256}  /tmp/worker-bundle.tar.gz" | sha256sum --check --strict -
tar -xzf /tmp/worker-bundle.tar.gz -C {INSTALL_DIR}
python3.11 -m venv {INSTALL_DIR}/venv
{INSTALL_DIR}/venv/bin/pip install --quiet --require-virtualenv -r {INSTALL_DIR}/worker/requirements.txt
{contract.environment_file_block(environment)}chmod 0640 {ENVIRONMENT_FILE}
chgrp {SERVICE} {ENVIRONMENT_FILE}
install -m 0644 {INSTALL_DIR}/worker/{SERVICE}.service /etc/systemd/system/{SERVICE}.service
install -m 0644 {INSTALL_DIR}/worker/{SERVICE}-drain.service /etc/systemd/system/{SERVICE}-drain.service
mkdir -p /etc/systemd/system/{SERVICE}.service.d
cat > /etc/systemd/system/{SERVICE}.service.d/stop-timeout.conf <<'OVERRIDE'
[Service]
TimeoutStopSec={grace + SHUTDOWN_MARGIN_SECONDS}
OVERRIDE
systemctl daemon-reload
systemctl enable --now {SERVICE}.service {SERVICE}-drain.service
"""


def worker_policy_document(
    queue_arn: str,
    dlq_arn: str,
    upload_bucket: str,
    upload_prefix: str,
    index_bucket: str,
    index_prefix: str,
    bundle_bucket: str,
    bundle_key: str,
    metric_namespace: str,
    group_arn: str,
) -> dict:
    """Least privilege for one worker. ListBucket (limited to the prefix) is there because without it
    S3 answers 403 instead of 404 for a missing object, and the worker could not tell "gone" from "denied"."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConsumeWorkQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": queue_arn,
            },
            {
                "Sid": "DeadLetterPermanentFailures",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": dlq_arn,
            },
            {
                "Sid": "ReadUploads",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{upload_bucket}/{upload_prefix}*",
            },
            {
                "Sid": "TellMissingUploadsFromDenied",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{upload_bucket}",
                "Condition": {"StringLike": {"s3:prefix": f"{upload_prefix}*"}},
            },
            {
                "Sid": "WriteIndexDocuments",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{index_bucket}/{index_prefix}*",
            },
            {
                "Sid": "TellMissingIndexDocumentsFromDenied",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{index_bucket}",
                "Condition": {"StringLike": {"s3:prefix": f"{index_prefix}*"}},
            },
            {
                "Sid": "ReadWorkerBundle",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bundle_bucket}/{bundle_key}",
            },
            {
                "Sid": "CompleteOwnTerminationHook",
                "Effect": "Allow",
                "Action": "autoscaling:CompleteLifecycleAction",
                "Resource": group_arn,
            },
            {
                # PutMetricData has no resource-level permissions; the namespace condition narrows it.
                "Sid": "PublishWorkerMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
            },
        ],
    }


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

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            description="CIS file-processor workers: consume the work queue, index uploads",
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                args.queue_arn,
                args.dlq_arn,
                args.upload_bucket,
                args.index_bucket,
                args.bundle_bucket,
                args.region,
                args.account_id,
            ).apply(
                lambda values: json.dumps(
                    worker_policy_document(
                        queue_arn=values[0],
                        dlq_arn=values[1],
                        upload_bucket=values[2],
                        upload_prefix=args.upload_prefix,
                        index_bucket=values[3],
                        index_prefix=args.index_prefix,
                        bundle_bucket=values[4],
                        bundle_key=args.bundle_key,
                        metric_namespace=args.metric_namespace,
                        group_arn=f"arn:aws:autoscaling:{values[5]}:{values[6]}:autoScalingGroup:*:"
                        f"autoScalingGroupName/{args.group_name}",
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
            args.queue_url, args.dlq_url, args.index_bucket, args.bundle_bucket, args.region
        ).apply(
            lambda values: user_data_script(
                worker_environment(
                    queue_url=values[0],
                    dlq_url=values[1],
                    processing_timeout_seconds=args.processing_timeout_seconds,
                    metric_namespace=args.metric_namespace,
                    index_bucket=values[2],
                    index_prefix=args.index_prefix,
                    worker_concurrency=args.worker_concurrency,
                    region=values[4],
                    group_name=args.group_name,
                ),
                bundle_bucket=values[3],
                bundle_key=args.bundle_key,
                bundle_sha256=args.bundle_sha256,
                region=values[4],
            )
        )
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            image_id=args.ami_id,
            instance_type=args.instance_type,
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
                    tags={"Name": "cis-file-processor", "WorkerBundle": args.bundle_sha256},
                )
            ],
            opts=child,
        )

        alarm_specification = pulumi.Output.from_input(args.rollout_alarm_names).apply(
            lambda names: (
                aws.autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs(alarms=list(names))
                if names
                else None
            )
        )
        self.group = aws.autoscaling.Group(
            f"{name}-group",
            name=args.group_name,
            vpc_zone_identifiers=args.subnet_ids,
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            health_check_type="EC2",
            default_instance_warmup=args.instance_warmup_seconds,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            enabled_metrics=["GroupInServiceInstances", "GroupDesiredCapacity", "GroupTotalInstances"],
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    checkpoint_percentages=sorted({args.canary_percentage, 100}),
                    checkpoint_delay=str(args.checkpoint_delay_seconds),
                    instance_warmup=str(args.instance_warmup_seconds),
                    min_healthy_percentage=100,
                    max_healthy_percentage=200,
                    auto_rollback=True,
                    skip_matching=True,
                    alarm_specification=alarm_specification,
                ),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key="Name", value="cis-file-processor", propagate_at_launch=True)
            ],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
        )
        aws.autoscaling.LifecycleHook(
            f"{name}-drain-on-termination",
            name=DRAIN_HOOK_NAME,
            autoscaling_group_name=self.group.name,
            lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
            heartbeat_timeout=args.processing_timeout_seconds + 2 * SHUTDOWN_MARGIN_SECONDS,
            default_result="CONTINUE",
            opts=child,
        )
        self.scaling_policy = aws.autoscaling.Policy(
            f"{name}-backlog-per-instance",
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                target_value=args.backlog_per_instance_target,
                customized_metric_specification=pulumi.Output.all(args.queue_name, self.group.name).apply(
                    lambda values: {"metrics": backlog_per_instance_metrics(values[0], values[1])}
                ),
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "groupName": self.group.name,
                "launchTemplateId": self.launch_template.id,
                "roleArn": self.role.arn,
            }
        )
