"""What a cost estimate needs from a stack, read from its rendered resources (never a second copy).

Each mode's settings come from the resources the program declares for it: the Auto Scaling Group,
launch template and its user data (the worker's EnvironmentFile) in ec2 mode; the Lambda function
and its SQS event source mapping in lambda mode (docs/cost.md). The
queue, the alarms and the worker's metric names are read the same way for both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from preview.mocks import RecordedResource
from preview.render import RenderedStack
from worker import contract
from worker.config import WorkerConfig

GROUP = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
FUNCTION = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"

WORKER_METRICS = contract.PUBLISHED_METRICS
WORKER_DIMENSION_SETS = 1
LAMBDA_DEFAULT_ARCHITECTURE = "x86_64"
"""What Lambda uses when `architectures` is not set (CreateFunction, Architectures)."""
DEFAULT_ROOT_VOLUME = (8, "gp3")


class StackSettingsError(Exception):
    """The rendered stack lacks what a mode's estimate needs; the message names it and the fix."""


@dataclass(frozen=True)
class QueueSettings:
    name: str
    visibility_timeout_seconds: float
    max_receive_count: int


@dataclass(frozen=True)
class Ec2Settings:
    instance_type: str
    min_size: int
    desired_capacity: int
    max_size: int
    root_volume_gb: float
    root_volume_type: str
    concurrency: int
    processing_timeout_seconds: float
    receive_wait_seconds: int
    metric_flush_seconds: float
    prefetch_messages: int
    prefetch_max_wait_seconds: float
    alarms: int
    alarm_metrics: int
    custom_metrics: int
    queue: QueueSettings
    availability_zones: int = 1
    """The group's subnets, one per Availability Zone: a dedicated NAT gateway or an interface endpoint
    is billed in each."""
    interface_endpoints: int = 0
    """Interface VPC endpoints the fleet has with workerNetworkEgress=vpc-endpoints (bench.cost counts them
    on the stack rendered in that mode when the stack itself is nat)."""
    network_egress: str = "nat"
    """The stack's own workerNetworkEgress: vpc-endpoints when it declares interface endpoints."""


@dataclass(frozen=True)
class LambdaSettings:
    function_name: str
    memory_mb: int
    timeout_seconds: float
    architecture: str
    batch_size: int
    batching_window_seconds: float
    maximum_concurrency: int | None
    alarms: int
    alarm_metrics: int
    custom_metrics: int
    queue: QueueSettings
    ephemeral_storage_mb: int = 512
    """/tmp size (Function ephemeralStorage.size; 512 MB when unset, the part that costs nothing)."""


def work_queue(stack: RenderedStack) -> QueueSettings:
    """The queue with a redrive policy: the one the consumers read (the DLQ has none)."""
    for queue in stack.of_type(QUEUE):
        redrive = queue.inputs.get("redrivePolicy")
        if not redrive:
            continue
        policy = json.loads(redrive) if isinstance(redrive, str) else dict(redrive)
        return QueueSettings(
            name=str(queue.inputs.get("name") or queue.name),
            visibility_timeout_seconds=float(queue.inputs.get("visibilityTimeoutSeconds", 30)),
            max_receive_count=int(policy.get("maxReceiveCount", 1)),
        )
    raise StackSettingsError(
        f"stack {stack.stack}: no {QUEUE} with a redrivePolicy (the work queue); the estimate reads the "
        "visibility timeout and maxReceiveCount from it"
    )


def ec2_settings(stack: RenderedStack) -> Ec2Settings:
    groups, templates = stack.of_type(GROUP), stack.of_type(LAUNCH_TEMPLATE)
    if len(groups) != 1 or len(templates) != 1:
        raise StackSettingsError(
            f"stack {stack.stack} declares {len(groups)} {GROUP} and {len(templates)} {LAUNCH_TEMPLATE}; "
            "the ec2 estimate needs exactly one of each (render it with compute=ec2)"
        )
    group, template = groups[0].inputs, templates[0].inputs
    instance_type = template.get("instanceType")
    if not isinstance(instance_type, str):
        raise StackSettingsError(f"{LAUNCH_TEMPLATE} '{templates[0].name}' has no known instanceType")
    volume_gb, volume_type = _root_volume(template)
    settings_queue = work_queue(stack)
    environment = contract.environment_from_user_data(str(template.get("userData") or ""))
    defaults = WorkerConfig(queue_url="", processing_timeout_seconds=1, metric_namespace="", index_bucket="")
    min_size = int(_number(group, "minSize", groups[0]))
    return Ec2Settings(
        instance_type=instance_type,
        min_size=min_size,
        desired_capacity=int(group.get("desiredCapacity", min_size)),
        max_size=int(_number(group, "maxSize", groups[0])),
        root_volume_gb=volume_gb,
        root_volume_type=volume_type,
        concurrency=int(environment.get(contract.WORKER_CONCURRENCY, defaults.concurrency)),
        processing_timeout_seconds=float(
            environment.get(contract.PROCESSING_TIMEOUT_SECONDS, settings_queue.visibility_timeout_seconds)
        ),
        receive_wait_seconds=int(environment.get("RECEIVE_WAIT_SECONDS", defaults.receive_wait_seconds)),
        metric_flush_seconds=float(environment.get("METRIC_FLUSH_SECONDS", defaults.metric_flush_seconds)),
        prefetch_messages=int(environment.get("PREFETCH_MESSAGES", defaults.prefetch_messages)),
        prefetch_max_wait_seconds=float(
            environment.get("PREFETCH_MAX_WAIT_SECONDS", defaults.prefetch_max_wait_seconds)
        ),
        alarms=len(stack.of_type(ALARM)),
        alarm_metrics=sum(alarm_metric_count(alarm) for alarm in stack.of_type(ALARM)),
        custom_metrics=len(WORKER_METRICS) * WORKER_DIMENSION_SETS,
        queue=settings_queue,
        availability_zones=_zone_count(group),
        interface_endpoints=interface_endpoint_count(stack),
        network_egress="vpc-endpoints" if interface_endpoint_count(stack) else "nat",
    )


def interface_endpoint_count(stack: RenderedStack) -> int:
    return sum(1 for e in stack.of_type(VPC_ENDPOINT) if e.inputs.get("vpcEndpointType") == "Interface")


def _zone_count(group: dict[str, Any]) -> int:
    """One subnet per Availability Zone (an interface endpoint takes at most one subnet a zone)."""
    subnets = group.get("vpcZoneIdentifiers")
    return len(subnets) if isinstance(subnets, list) and subnets else 1


def lambda_settings(stack: RenderedStack) -> LambdaSettings:
    functions, mappings = stack.of_type(FUNCTION), stack.of_type(EVENT_SOURCE_MAPPING)
    if not functions or not mappings:
        raise StackSettingsError(
            f"stack {stack.stack} declares {len(functions)} {FUNCTION} and {len(mappings)} "
            f"{EVENT_SOURCE_MAPPING}: the lambda estimate needs the function and its SQS event source "
            "mapping, which the program declares for a stack with cis-file-pipeline:compute: lambda "
            "(Pulumi.lambda.yaml)"
        )
    if len(functions) != 1 or len(mappings) != 1:
        raise StackSettingsError(
            f"stack {stack.stack} declares {len(functions)} functions and {len(mappings)} event source "
            "mappings; the estimate models one function fed by one SQS mapping"
        )
    function, mapping = functions[0].inputs, mappings[0].inputs
    architectures = function.get("architectures") or [LAMBDA_DEFAULT_ARCHITECTURE]
    scaling = mapping.get("scalingConfig") or {}
    ephemeral = (function.get("ephemeralStorage") or {}).get("size", 512)
    maximum = scaling.get("maximumConcurrency")
    return LambdaSettings(
        function_name=str(function.get("name") or functions[0].name),
        memory_mb=int(function.get("memorySize", 128)),
        timeout_seconds=float(function.get("timeout", 3)),
        architecture=str(architectures[0]),
        batch_size=int(mapping.get("batchSize", 10)),
        batching_window_seconds=float(mapping.get("maximumBatchingWindowInSeconds", 0)),
        maximum_concurrency=int(maximum) if maximum is not None else None,
        alarms=len(stack.of_type(ALARM)),
        alarm_metrics=sum(alarm_metric_count(alarm) for alarm in stack.of_type(ALARM)),
        custom_metrics=len(WORKER_METRICS) * WORKER_DIMENSION_SETS,
        queue=work_queue(stack),
        ephemeral_storage_mb=int(ephemeral),
    )


def alarm_metric_count(alarm: RecordedResource) -> int:
    """Metrics an alarm reads: CloudWatch bills an alarm per metric (a metric-math alarm per input)."""
    queries = alarm.inputs.get("metricQueries") or []
    return sum(1 for query in queries if query.get("metric")) or 1


def _root_volume(template: dict[str, Any]) -> tuple[float, str]:
    """The first block device's EBS size and type (the root volume); the AMI's default when absent."""
    for mapping in template.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        if "volumeSize" in ebs:
            return float(ebs["volumeSize"]), str(ebs.get("volumeType", DEFAULT_ROOT_VOLUME[1]))
    return float(DEFAULT_ROOT_VOLUME[0]), DEFAULT_ROOT_VOLUME[1]


def _number(inputs: dict[str, Any], key: str, resource: RecordedResource) -> float:
    value = inputs.get(key)
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise StackSettingsError(f"{resource.type} '{resource.name}': {key} is {value!r}, not a number")
    return float(value)
