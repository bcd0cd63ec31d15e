"""The CIS file pipeline: read the stack's settings, build the components, export what others read."""

from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.compute_outputs import fleet_outputs, function_outputs
from components.file_event_pipeline import FileEventPipeline, FileEventPipelineArgs
from components.lambda_consumer import LambdaConsumer, LambdaConsumerArgs
from components.network import private_route_tables, private_subnets
from components.pipeline_alarms import PipelineAlarms, PipelineAlarmsArgs
from components.settings import (
    AlarmSettings,
    ComputeSettings,
    FleetSettings,
    PipelineSettings,
    given_config_keys,
    reject_unknown_keys,
)
from components.worker_bundle import WorkerBundle, WorkerBundleArgs
from components.worker_endpoints import WorkerEndpoints, WorkerEndpointsArgs
from components.worker_fleet import WorkerFleet, WorkerFleetArgs

HERE = Path(__file__).parent
reject_unknown_keys(given_config_keys(), pulumi.get_project())
settings = PipelineSettings.from_config()
compute = ComputeSettings.from_config(settings)
fleet_settings = FleetSettings.from_config()
alarm_settings = AlarmSettings.from_config()
region = aws.get_region_output().region
account_id = aws.get_caller_identity_output().account_id

pipeline = FileEventPipeline("file-pipeline", FileEventPipelineArgs(settings=settings))
alarms = PipelineAlarms(
    "alarms",
    PipelineAlarmsArgs(
        settings=alarm_settings,
        pipeline=settings,
        fleet=fleet_settings,
        compute=compute,
        region=region,
        account_id=account_id,
    ),
)
if compute.is_lambda:  # the function and its queue mapping; no fleet, bundle or network
    function = LambdaConsumer(
        "consumer",
        LambdaConsumerArgs(
            settings=settings,
            compute=compute,
            pipeline=pipeline,
            source_dir=HERE / "worker",
            build_dir=HERE / "build",
            region=region,
            account_id=account_id,
        ),
    )
    consumer = function_outputs(function)
else:
    bundle = WorkerBundle(
        "worker-bundle",
        WorkerBundleArgs(fleet=fleet_settings, source_dir=HERE / "worker", build_dir=HERE / "build"),
    )
    subnet_ids, vpc_id = private_subnets(fleet_settings)
    fleet = WorkerFleet(
        "workers",
        WorkerFleetArgs(
            settings=settings,
            fleet=fleet_settings,
            pipeline=pipeline,
            bundle=bundle,
            subnet_ids=subnet_ids,
            vpc_id=vpc_id,
            ami_id=aws.ssm.get_parameter_output(name=fleet_settings.ami_ssm_parameter).value,
            region=region,
            account_id=account_id,
            rollout_alarm_names=alarms.rollout_alarm_names,
        ),
    )
    if fleet_settings.uses_vpc_endpoints:  # otherwise the VPC's NAT path (workerNetworkEgress=nat)
        WorkerEndpoints(
            "worker-endpoints",
            WorkerEndpointsArgs(
                vpc_id=vpc_id,
                subnet_ids=subnet_ids,
                route_table_ids=private_route_tables(fleet_settings, subnet_ids),
                worker_security_group_id=fleet.security_group.id,
                region=region,
            ),
        )
    consumer = fleet_outputs(fleet, bundle)

pulumi.export("queueUrl", pipeline.queue.url)
pulumi.export("queueArn", pipeline.queue.arn)
pulumi.export("dlqUrl", pipeline.dead_letter_queue.url)
pulumi.export("dlqArn", pipeline.dead_letter_queue.arn)
pulumi.export("bucketName", pipeline.upload_bucket.bucket)
pulumi.export("indexBucketName", pipeline.index_bucket.bucket)
for key, value in consumer.items():
    pulumi.export(key, value)
pulumi.export("alarmTopicArn", alarms.topic.arn)
pulumi.export("alarmNames", [alarm.name for alarm in alarms.alarms.values()])
pulumi.export("dashboardName", alarms.dashboard.dashboard_name)
