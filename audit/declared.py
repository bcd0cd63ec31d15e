"""What the stack declares, read from the program rendered offline (names and settings, one source)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from preview.render import RenderedStack
from worker import contract


@dataclass
class DeclaredStack:
    region: str
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Queue name -> its declared inputs."""
    notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Bucket -> [{queue, events, prefix, suffix}]."""
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_name: str | None = None
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


def declared_stack(stack: RenderedStack, region: str) -> DeclaredStack:
    declared = DeclaredStack(region=region)
    arn_to_name = {}
    for queue in stack.of_type("aws:sqs/queue:Queue"):
        declared.queues[queue.outputs["name"]] = queue.inputs
        arn_to_name[queue.outputs["arn"]] = queue.outputs["name"]
    for queue in declared.queues.values():
        if queue.get("redrivePolicy"):
            declared.work_queue = queue["name"]
            declared.dead_letter_queue = arn_to_name.get(
                json.loads(queue["redrivePolicy"])["deadLetterTargetArn"]
            )
    for notification in stack.of_type("aws:s3/bucketNotification:BucketNotification"):
        declared.notifications[notification.inputs["bucket"]] = [
            {
                "queue": arn_to_name.get(queue["queueArn"], queue["queueArn"]),
                "events": list(queue["events"]),
                "prefix": queue.get("filterPrefix", ""),
                "suffix": queue.get("filterSuffix", ""),
            }
            for queue in notification.inputs.get("queues", [])
        ]
    for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        declared.alarms[alarm.inputs["name"]] = alarm.inputs
    groups = stack.of_type("aws:autoscaling/group:Group")
    declared.group_name = groups[0].inputs.get("name") if groups else None
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        environment = contract.environment_from_user_data(template.inputs.get("userData") or "")
        declared.metric_namespace = environment.get(contract.METRIC_NAMESPACE, declared.metric_namespace)
    return declared
