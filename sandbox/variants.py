"""Variants of a rendered stack for local runs: renamed, with test-sized waits, or with the incident's
settings. Each returns a changed copy; everything a variant does not name stays as the program
declared it, so a local pipeline is the rendered stack with a few stated differences, never a second
description typed by hand.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any

from preview.render import RenderedStack

BUCKET, QUEUE, ALARM = "aws:s3/bucket:Bucket", "aws:sqs/queue:Queue", "aws:cloudwatch/metricAlarm:MetricAlarm"
NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"


def renamed(stack: RenderedStack, prefix: str) -> RenderedStack:
    """Every bucket, queue and alarm named `{prefix}-{its logical name}`, wherever its name appears
    (ARNs, URLs, policies, dimensions, the user data's environment): many pipelines fit one endpoint."""
    names: dict[str, str] = {}
    for resource in stack.resources:
        if resource.type == BUCKET:
            names[resource.outputs["bucket"]] = _physical_name(prefix, resource.name)
        elif resource.type in (QUEUE, ALARM):
            names[resource.outputs.get("name") or resource.inputs["name"]] = _physical_name(
                prefix, resource.name
            )
    if not names:
        return copy.deepcopy(stack)
    # Longest first, and only whole names: "queue-a" must not rewrite part of "queue-a-dlq".
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        + r")(?![\w-])"
    )
    variant = copy.deepcopy(stack)
    for resource in variant.resources:
        resource.inputs = _substitute(resource.inputs, pattern, names)
        resource.outputs = _substitute(resource.outputs, pattern, names)
    variant.outputs = _substitute(variant.outputs, pattern, names)
    return variant


def with_work_queue(
    stack: RenderedStack,
    *,
    visibility_timeout_seconds: float | None = None,
    receive_wait_seconds: float | None = None,
    max_receive_count: int | None = None,
    without_redrive: bool = False,
) -> RenderedStack:
    """The queues the bucket notifications feed, with the given settings instead of the declared ones."""
    variant = copy.deepcopy(stack)
    notified = {
        queue["queueArn"]
        for notification in variant.of_type(NOTIFICATION)
        for queue in notification.inputs.get("queues", [])
    }
    for queue in variant.of_type(QUEUE):
        if queue.outputs["arn"] not in notified:
            continue
        for key, value in (
            ("visibilityTimeoutSeconds", visibility_timeout_seconds),
            ("receiveWaitTimeSeconds", receive_wait_seconds),
        ):
            if value is not None:
                queue.inputs[key] = queue.outputs[key] = value
        if without_redrive:
            queue.inputs.pop("redrivePolicy", None)
            queue.outputs.pop("redrivePolicy", None)
        elif max_receive_count is not None:
            if not queue.inputs.get("redrivePolicy"):
                raise ValueError(f"queue {queue.name} declares no redrive policy to set maxReceiveCount in")
            redrive = json.loads(queue.inputs["redrivePolicy"])
            redrive["maxReceiveCount"] = max_receive_count
            queue.inputs["redrivePolicy"] = queue.outputs["redrivePolicy"] = json.dumps(redrive)
    return variant


def with_notifications_repeated(stack: RenderedStack, count: int) -> RenderedStack:
    """Every queue notification declared `count` times: the duplicate-notification incident."""
    variant = copy.deepcopy(stack)
    for notification in variant.of_type(NOTIFICATION):
        notification.inputs["queues"] = notification.inputs.get("queues", []) * count
    return variant


def _physical_name(prefix: str, logical_name: str) -> str:
    """A name S3, SQS and CloudWatch all accept: lower case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{logical_name}".lower())[:63].strip("-")


def _substitute(value: Any, pattern: re.Pattern[str], names: dict[str, str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, pattern, names, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(item, pattern, names) for item in value]
    if not isinstance(value, str):
        return value
    if key == "userData":  # base64, as EC2 takes it: rewrite the script inside
        try:
            script = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return pattern.sub(lambda match: names[match.group(1)], value)
        return base64.b64encode(pattern.sub(lambda match: names[match.group(1)], script).encode()).decode()
    return pattern.sub(lambda match: names[match.group(1)], value)
