"""Read the live pipeline with read-only calls and express it as the policy pack's resources.

The same policy functions judge the declared stack (offline gate) and the live one (this audit):
live state is converted to resources with the Pulumi types and camelCase properties the engine
would hand over, so no rule is written twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from audit.live_function import LiveFunction, read_function
from preview.mocks import RecordedResource

QUEUE_ATTRIBUTES = ["All"]


@dataclass
class LiveState:
    region: str
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, str]] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Bucket -> its guards as read: {"public_access_block": {...}} and {"policy": "..."} when present."""
    alarms: list[dict[str, Any]] = field(default_factory=list)
    group: dict[str, Any] | None = None
    latest_refresh: dict[str, Any] | None = None
    function: LiveFunction | None = None
    """Lambda mode: the function and its mappings from the work queue (audit/lambda_consumer.py)."""
    notes: list[str] = field(default_factory=list)

    @property
    def account(self) -> str | None:
        """The account the live queues belong to (from a queue ARN), to localize declared documents."""
        for attributes in self.queues.values():
            parts = str(attributes.get("QueueArn", "")).split(":")
            if len(parts) >= 6:
                return parts[4]
        return None


def _absent(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def read_live_state(
    s3: Any,
    sqs: Any,
    cloudwatch: Any,
    autoscaling: Any,
    region: str,
    buckets: list[str],
    queues: list[str],
    alarm_prefix: str,
    group_name: str | None,
    lambda_client: Any = None,
    function_name: str | None = None,
    work_queue: str | None = None,
) -> LiveState:
    """Everything the audit judges, read once; a resource that does not exist is simply left out."""
    state = LiveState(region=region)
    for bucket in buckets:
        try:
            state.notifications[bucket] = s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as error:
            if _absent(error, "NoSuchBucket"):
                continue
            raise
        state.notifications[bucket].pop("ResponseMetadata", None)
        state.buckets[bucket] = _bucket_guards(s3, bucket)
    for name in queues:
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if _absent(error, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                continue
            raise
        state.queue_urls[name] = url
        state.queues[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=QUEUE_ATTRIBUTES).get(
            "Attributes", {}
        )
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNamePrefix=alarm_prefix):
        state.alarms.extend(page.get("MetricAlarms", []))
    if group_name:
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])[
            "AutoScalingGroups"
        ]
        state.group = groups[0] if groups else None
        if state.group is not None:
            try:
                refreshes = autoscaling.describe_instance_refreshes(
                    AutoScalingGroupName=group_name, MaxRecords=1
                )
                state.latest_refresh = (refreshes.get("InstanceRefreshes") or [None])[0]
            except (ClientError, ResponseParserError) as error:  # moto 5.2 does not implement it
                reason = (
                    error.response.get("Error", {}).get("Code", "error")
                    if isinstance(error, ClientError)
                    else "the endpoint answered with something that is not an AWS response"
                )
                state.notes.append(
                    f"latest instance refresh not readable ({reason}); "
                    "moto does not implement DescribeInstanceRefreshes"
                )
    if function_name and lambda_client is not None:
        queue_arn = state.queues.get(work_queue or "", {}).get("QueueArn")
        state.function = read_function(lambda_client, function_name, queue_arn)
    return state


def _bucket_guards(s3: Any, bucket: str) -> dict[str, Any]:
    guards: dict[str, Any] = {}
    try:
        guards["public_access_block"] = s3.get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as error:
        if not _absent(error, "NoSuchPublicAccessBlockConfiguration"):
            raise
    try:
        guards["policy"] = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as error:
        if not _absent(error, "NoSuchBucketPolicy"):
            raise
    return guards


# --- live state as the policy pack's resources ---------------------------------------------------------


def _resource(type_: str, name: str, props: dict[str, Any]) -> RecordedResource:
    return RecordedResource.from_properties(type_, name, props, stack="live")


def policy_resources(
    state: LiveState, dead_letter_targets: dict[str, str] | None = None
) -> list[RecordedResource]:
    """The live state as the pack's resources. `dead_letter_targets` (work queue -> its DLQ, from the
    declared stack) becomes the work queue's `redrivePolicy` dependency, as the engine records it, so the
    pack knows the DLQ is one even when the live redrive policy is gone."""
    resources = [_resource("pulumi:pulumi:Stack", "live", {})]
    queue_urns = {name: _resource("aws:sqs/queue:Queue", name, {}).urn for name in state.queues}
    for name, attributes in state.queues.items():
        props: dict[str, Any] = {
            "name": name,
            "arn": attributes.get("QueueArn"),
            "url": state.queue_urls[name],
            "id": state.queue_urls[name],
            "visibilityTimeoutSeconds": float(attributes.get("VisibilityTimeout", 30)),
            "messageRetentionSeconds": float(attributes.get("MessageRetentionPeriod", 345600)),
            "receiveWaitTimeSeconds": float(attributes.get("ReceiveMessageWaitTimeSeconds", 0)),
            "sqsManagedSseEnabled": attributes.get("SqsManagedSseEnabled") == "true",
        }
        for attribute, key in (
            ("RedrivePolicy", "redrivePolicy"),
            ("RedriveAllowPolicy", "redriveAllowPolicy"),
            ("KmsMasterKeyId", "kmsMasterKeyId"),
            ("Policy", "policy"),
        ):
            if attributes.get(attribute):
                props[key] = attributes[attribute]
        queue = _resource("aws:sqs/queue:Queue", name, props)
        target = (dead_letter_targets or {}).get(name)
        if target in queue_urns:
            queue.property_dependencies = {"redrivePolicy": [queue_urns[target]]}
            queue.dependencies = [queue_urns[target]]
        resources.append(queue)
    for bucket, configuration in state.notifications.items():
        resources.append(
            _resource(
                "aws:s3/bucket:Bucket",
                bucket,
                {"bucket": bucket, "id": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            )
        )
        guards = state.buckets.get(bucket, {})
        if "public_access_block" in guards:
            block = guards["public_access_block"]
            resources.append(
                _resource(
                    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                    f"{bucket}-public-access-block",
                    {"bucket": bucket, **{key[0].lower() + key[1:]: value for key, value in block.items()}},
                )
            )
        if "policy" in guards:
            resources.append(
                _resource(
                    "aws:s3/bucketPolicy:BucketPolicy",
                    f"{bucket}-policy",
                    {"bucket": bucket, "policy": guards["policy"]},
                )
            )
        if any(
            key in configuration
            for key in (
                "QueueConfigurations",
                "TopicConfigurations",
                "LambdaFunctionConfigurations",
                "EventBridgeConfiguration",
            )
        ):
            resources.append(
                _resource(
                    "aws:s3/bucketNotification:BucketNotification",
                    f"{bucket}-notification",
                    notification_props(bucket, configuration),
                )
            )
    for alarm in state.alarms:
        resources.append(
            _resource("aws:cloudwatch/metricAlarm:MetricAlarm", alarm["AlarmName"], alarm_props(alarm))
        )
    return resources


def notification_props(bucket: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """S3's notification configuration as the BucketNotification resource's properties."""

    def destinations(kind: str, arn_field: str, target_key: str) -> list[dict[str, Any]]:
        found = []
        for item in configuration.get(kind, []):
            rules = {
                rule["Name"].lower(): rule["Value"]
                for rule in item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            }
            found.append(
                {
                    target_key: item[arn_field],
                    "events": item["Events"],
                    "filterPrefix": rules.get("prefix", ""),
                    "filterSuffix": rules.get("suffix", ""),
                }
            )
        return found

    return {
        "bucket": bucket,
        "queues": destinations("QueueConfigurations", "QueueArn", "queueArn"),
        "topics": destinations("TopicConfigurations", "TopicArn", "topicArn"),
        "lambdaFunctions": destinations(
            "LambdaFunctionConfigurations", "LambdaFunctionArn", "lambdaFunctionArn"
        ),
        "eventbridge": "EventBridgeConfiguration" in configuration,
    }


def alarm_props(alarm: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"name": alarm["AlarmName"]}
    if alarm.get("MetricName"):
        props.update(
            namespace=alarm.get("Namespace"),
            metricName=alarm["MetricName"],
            dimensions={d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
        )
    queries = []
    for query in alarm.get("Metrics", []):
        entry: dict[str, Any] = {"id": query["Id"], "returnData": bool(query.get("ReturnData", True))}
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            entry["metric"] = {
                "namespace": metric.get("Namespace"),
                "metricName": metric.get("MetricName"),
                "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            }
        if "Expression" in query:
            entry["expression"] = query["Expression"]
        queries.append(entry)
    if queries:
        props["metricQueries"] = queries
    return props


def redrive(attributes: dict[str, str]) -> dict[str, Any] | None:
    return json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else None
