"""What the stack declares, read from the program rendered offline (names and settings, one source).

Queue roles (work queue, dead-letter queue) come from here, from the declared redrive policies:
the live state is judged against them and never re-infers them, so a queue whose redrive policy was
removed in the console is still known to be the work queue, and its DLQ still a DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from audit.consumers import CONSUMER_TYPES
from preview.render import RenderedStack
from worker import contract

WORK_QUEUE = "work queue"
DEAD_LETTER_QUEUE = "dead-letter queue"


@dataclass
class DeclaredStack:
    region: str
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Queue name -> its declared inputs."""
    queue_arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    """Queue name -> the URL the rendered stack gave it (replaced by the live URL in consumer resources)."""
    consumers: list[Any] = field(default_factory=list)
    """The rendered consumer-side resources (audit/consumers.py): launch templates, roles, Lambda mappings."""
    """Queue name -> the ARN the rendered stack gave it (the offline mocks' account), for localizing documents."""
    roles: dict[str, str] = field(default_factory=dict)
    """Queue name -> WORK_QUEUE or DEAD_LETTER_QUEUE."""
    dead_letter_targets: dict[str, str] = field(default_factory=dict)
    """Work queue name -> its dead-letter queue's name."""
    buckets: list[str] = field(default_factory=list)
    notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Bucket -> [{queue, events, prefix, suffix}]."""
    queue_policies: dict[str, str] = field(default_factory=dict)
    """Queue name -> the declared queue policy document (JSON text)."""
    redrive_allow_policies: dict[str, str] = field(default_factory=dict)
    """Queue name -> the declared redrive-allow policy (JSON text)."""
    public_access_blocks: dict[str, dict[str, bool]] = field(default_factory=dict)
    """Bucket -> {BlockPublicAcls: bool, ...} as S3 names them."""
    bucket_policies: dict[str, str] = field(default_factory=dict)
    """Bucket -> the declared bucket policy document (JSON text)."""
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_name: str | None = None
    function_name: str | None = None
    """Lambda mode's consumer (config compute=lambda); None in ec2 mode, where group_name is set."""
    function: dict[str, Any] | None = None
    """The declared function's inputs (handler, runtime, timeout, environment), lambda mode only."""
    event_source_mapping: dict[str, Any] | None = None
    """The declared mapping's inputs (batch size, window, response types, scaling), lambda mode only."""
    metric_namespace: str = contract.DEFAULT_METRIC_NAMESPACE
    work_queue: str | None = None
    dead_letter_queue: str | None = None

    @property
    def alarm_prefix(self) -> str:
        names = sorted(self.alarms)
        if not names:
            return ""
        first, last = names[0], names[-1]
        common = 0
        while common < min(len(first), len(last)) and first[common] == last[common]:
            common += 1
        return first[:common]

    @property
    def mock_account(self) -> str | None:
        """The account ID the offline render put in ARNs (replaced by the live one before comparing)."""
        for arn in self.queue_arns.values():
            parts = arn.split(":")
            if len(parts) >= 6:
                return parts[4]
        return None

    def role(self, queue: str) -> str:
        return self.roles.get(queue, "queue")


PUBLIC_ACCESS_BLOCK_SETTINGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def declared_stack(stack: RenderedStack, region: str) -> DeclaredStack:
    declared = DeclaredStack(region=region)
    declared.consumers = [resource for resource in stack.resources if resource.type in CONSUMER_TYPES]
    arn_to_name: dict[str, str] = {}
    url_to_name: dict[str, str] = {}
    for queue in stack.of_type("aws:sqs/queue:Queue"):
        name = queue.outputs["name"]
        declared.queues[name] = queue.inputs
        declared.queue_arns[name] = queue.outputs["arn"]
        declared.queue_urls[name] = queue.outputs["url"]
        arn_to_name[queue.outputs["arn"]] = name
        url_to_name[queue.outputs["url"]] = name
    for name, inputs in declared.queues.items():
        if inputs.get("redrivePolicy"):
            target = arn_to_name.get(json.loads(inputs["redrivePolicy"])["deadLetterTargetArn"])
            declared.roles[name] = WORK_QUEUE
            declared.work_queue = declared.work_queue or name
            if target:
                declared.dead_letter_targets[name] = target
                declared.roles[target] = DEAD_LETTER_QUEUE
                declared.dead_letter_queue = declared.dead_letter_queue or target
        if inputs.get("redriveAllowPolicy"):
            declared.redrive_allow_policies[name] = inputs["redriveAllowPolicy"]
    for policy in stack.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"):
        name = url_to_name.get(policy.inputs.get("queueUrl", ""))
        if name:
            declared.redrive_allow_policies[name] = policy.inputs["redriveAllowPolicy"]
    for policy in stack.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        name = url_to_name.get(policy.inputs.get("queueUrl", ""))
        if name:
            declared.queue_policies[name] = policy.inputs["policy"]
    declared.buckets = [bucket.outputs["bucket"] for bucket in stack.of_type("aws:s3/bucket:Bucket")]
    for notification in stack.of_type("aws:s3/bucketNotification:BucketNotification"):
        bucket = notification.inputs["bucket"]
        if bucket not in declared.buckets:
            declared.buckets.append(bucket)
        declared.notifications[bucket] = [
            {
                "queue": arn_to_name.get(queue["queueArn"], queue["queueArn"]),
                "events": list(queue["events"]),
                "prefix": queue.get("filterPrefix", ""),
                "suffix": queue.get("filterSuffix", ""),
            }
            for queue in notification.inputs.get("queues", [])
        ]
    for block in stack.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        declared.public_access_blocks[block.inputs["bucket"]] = {
            key: bool(block.inputs.get(key[0].lower() + key[1:], False))
            for key in PUBLIC_ACCESS_BLOCK_SETTINGS
        }
    for policy in stack.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        declared.bucket_policies[policy.inputs["bucket"]] = policy.inputs["policy"]
    for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        declared.alarms[alarm.inputs["name"]] = alarm.inputs
    groups = stack.of_type("aws:autoscaling/group:Group")
    declared.group_name = groups[0].inputs.get("name") if groups else None
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        environment = contract.environment_from_user_data(template.inputs.get("userData") or "")
        declared.metric_namespace = environment.get(contract.METRIC_NAMESPACE, declared.metric_namespace)
    for function in stack.of_type("aws:lambda/function:Function"):
        if declared.function is None:
            declared.function_name, declared.function = function.inputs.get("name"), function.inputs
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        declared.metric_namespace = variables.get(contract.METRIC_NAMESPACE, declared.metric_namespace)
    mappings = stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    declared.event_source_mapping = mappings[0].inputs if mappings else None
    return declared
