"""Deploy the data plane of a rendered stack into a local AWS (moto server), with the stack's own values.

Buckets (with versioning, public access block and bucket policy), queues with their attributes and
redrive policies, queue policies, the bucket notification and the metric alarms are created from the
inputs the Pulumi program rendered under mocks, not typed again. This is the one deployment path of
the sandbox: `python -m sandbox.deploy`, the drill and the tests' local pipelines all come through
`deploy()`. Time values (visibility timeouts, the workers' processing timeout) can be scaled down so
a drill of the 15-minute incident runs in seconds.

Deploying the same stack twice changes nothing: CreateBucket answers BucketAlreadyOwnedByYou for a
bucket we own (outside us-east-1; https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html),
and CreateQueue returns the existing queue when every attribute matches, but refuses a changed one
with QueueNameExists (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from preview.mocks import RecordedResource
from preview.render import RenderedStack
from preview.values import is_unknown
from worker import contract
from worker.aws_setup import PLAIN_HTTP_TAG

PUBLIC_ACCESS_BLOCK_SETTINGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


QUEUE_EXISTS_CODES = ("QueueAlreadyExists", "QueueNameExists")

LOCAL_IMAGE_ID = "ami-03cf127a"
"""The first of moto's default AMIs (moto/ec2/resources/amis.json), the workers' stand-in image. Asked
for by id: describing moto's whole catalogue (1347 images) costs about 1.5 s of CPU per deploy."""


@dataclass
class DataPlane:
    """What was created locally, by the stack's names."""

    region: str
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    buckets: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    worker_environment: dict[str, str] = field(default_factory=dict)
    scaled: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Setting -> (declared value, value used locally)."""
    deployed: set[str] = field(default_factory=set)
    """URNs of the resources created (or found unchanged) at the endpoint."""
    local_values: dict[str, str] = field(default_factory=dict)
    """A value the mocks computed (queue URL or ARN) -> the same value at the endpoint."""
    notified_queues: set[str] = field(default_factory=set)
    """ARNs of the queues a notification was written for in this deploy (S3 sent each an s3:TestEvent)."""
    left_out_statements: dict[str, list[str]] = field(default_factory=dict)
    """Bucket -> the Sids of its policy's TLS-only statements left out for a plain-HTTP endpoint."""


def scaled_seconds(value: float, scale: float) -> int:
    return max(1, round(value * scale))


def deploy(
    stack: RenderedStack,
    s3: Any,
    sqs: Any,
    cloudwatch: Any,
    region: str,
    scale: float = 1.0,
    ec2: Any = None,
    autoscaling: Any = None,
    bucket_policies: bool = True,
    plain_http: bool = False,
) -> DataPlane:
    """Create (or converge) the stack's data plane; with `ec2` and `autoscaling` clients also its
    launch template, Auto Scaling group and lifecycle hooks.

    `bucket_policies=False` leaves out (and removes) the bucket policies. `plain_http=True` deploys
    them without their TLS-only statements, tagging the bucket with PLAIN_HTTP_TAG so the audit can
    tell this declared local deviation from drift (see `plain_http_policy`).
    """
    plane = DataPlane(region=region)
    _buckets(stack, s3, plane, bucket_policies, plain_http)
    mock_arns = _queues(stack, sqs, plane, scale)
    _queue_policies(stack, sqs, plane, mock_arns)
    _notifications(stack, s3, plane, mock_arns)
    _alarms(stack, cloudwatch, plane)
    if ec2 is not None and autoscaling is not None:
        _fleet(stack, ec2, autoscaling, plane)
    plane.worker_environment = _worker_environment(stack, plane, scale)
    return plane


def _buckets(
    stack: RenderedStack, s3: Any, plane: DataPlane, bucket_policies: bool, plain_http: bool
) -> None:
    location = (
        {}
        if plane.region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": plane.region}}
    )
    for bucket in stack.of_type("aws:s3/bucket:Bucket"):
        name = bucket.outputs["bucket"]
        try:
            s3.create_bucket(Bucket=name, **location)
        except ClientError as error:  # a re-deploy: the bucket is there already, and ours
            if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        plane.buckets.append(name)
        plane.deployed.add(bucket.urn)
    for versioning in stack.of_type("aws:s3/bucketVersioning:BucketVersioning"):
        status = versioning.inputs["versioningConfiguration"]["status"]
        s3.put_bucket_versioning(
            Bucket=versioning.inputs["bucket"], VersioningConfiguration={"Status": status}
        )
        plane.deployed.add(versioning.urn)
    for block in stack.of_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        settings = {
            key: block.inputs.get(key[0].lower() + key[1:], False) for key in PUBLIC_ACCESS_BLOCK_SETTINGS
        }
        s3.put_public_access_block(Bucket=block.inputs["bucket"], PublicAccessBlockConfiguration=settings)
        plane.deployed.add(block.urn)
    for policy in stack.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        bucket = policy.inputs["bucket"]
        if not bucket_policies:  # converge: a policy deployed before and no longer wanted goes
            s3.delete_bucket_policy(Bucket=bucket)
            _untag_left_out(s3, bucket)
            continue
        document, left_out = (
            plain_http_policy(policy.inputs["policy"]) if plain_http else (policy.inputs["policy"], [])
        )
        if left_out:
            plane.left_out_statements[bucket] = left_out
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": PLAIN_HTTP_TAG, "Value": " ".join(left_out)}]}
            )
        else:
            _untag_left_out(s3, bucket)
        if json.loads(document).get("Statement"):
            s3.put_bucket_policy(Bucket=bucket, Policy=document)
        else:
            s3.delete_bucket_policy(Bucket=bucket)
        plane.deployed.add(policy.urn)


def plain_http_policy(document: str) -> tuple[str, list[str]]:
    """(the policy without its statements conditioned on aws:SecureTransport, their Sids).

    moto 5.2 evaluates a bucket policy's Deny without its Condition when the request supplies no value
    for the condition key, and it supplies none for aws:SecureTransport: a TLS-only Deny refuses every
    object request, over HTTP and HTTPS alike (moto/iam/policy_conditions.py, `verify_condition`). On
    AWS the same statement refuses only plain-HTTP requests
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html).
    """
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept, left_out = [], []
    for position, statement in enumerate(statements):
        conditions = statement.get("Condition") or {}
        if any("aws:SecureTransport" in keys for keys in conditions.values() if isinstance(keys, dict)):
            left_out.append(str(statement.get("Sid") or f"statement-{position}"))
        else:
            kept.append(statement)
    if not left_out:
        return document, []
    policy["Statement"] = kept
    return json.dumps(policy), left_out


def _untag_left_out(s3: Any, bucket: str) -> None:
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError:  # NoSuchTagSet
        return
    if any(tag["Key"] == PLAIN_HTTP_TAG for tag in tags):
        kept = [tag for tag in tags if tag["Key"] != PLAIN_HTTP_TAG]
        if kept:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": kept})
        else:
            s3.delete_bucket_tagging(Bucket=bucket)


def _queues(stack: RenderedStack, sqs: Any, plane: DataPlane, scale: float) -> dict[str, str]:
    """Create dead-letter targets first; returns mock ARN -> local ARN."""
    queues = stack.of_type("aws:sqs/queue:Queue")
    targets = {
        json.loads(q.inputs["redrivePolicy"])["deadLetterTargetArn"]
        for q in queues
        if q.inputs.get("redrivePolicy")
    }
    mock_to_local: dict[str, str] = {}
    for queue in sorted(queues, key=lambda q: q.outputs["arn"] not in targets):
        attributes = {}
        inputs = queue.inputs
        if "visibilityTimeoutSeconds" in inputs:
            declared = inputs["visibilityTimeoutSeconds"]
            attributes["VisibilityTimeout"] = str(scaled_seconds(declared, scale))
            plane.scaled[f"{queue.outputs['name']} visibilityTimeoutSeconds"] = (
                declared,
                scaled_seconds(declared, scale),
            )
        for key, attribute in (
            ("messageRetentionSeconds", "MessageRetentionPeriod"),
            ("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds"),
        ):
            if key in inputs:
                attributes[attribute] = str(int(inputs[key]))
        if inputs.get("redrivePolicy"):
            redrive = json.loads(inputs["redrivePolicy"])
            redrive["deadLetterTargetArn"] = mock_to_local[redrive["deadLetterTargetArn"]]
            attributes["RedrivePolicy"] = json.dumps(redrive)
        name = queue.outputs["name"]
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except ClientError as error:  # a changed re-deploy: converge the queue's attributes instead
            if error.response.get("Error", {}).get("Code") not in QUEUE_EXISTS_CODES:
                raise
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": "", **attributes})
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        plane.queue_urls[name], plane.queue_arns[name] = url, arn
        mock_to_local[queue.outputs["arn"]] = arn
        mock_to_local[queue.outputs["url"]] = url
        plane.deployed.add(queue.urn)
    plane.local_values.update(mock_to_local)
    return mock_to_local


def _queue_policies(stack: RenderedStack, sqs: Any, plane: DataPlane, mock_to_local: dict[str, str]) -> None:
    for policy in stack.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        document = policy.inputs["policy"]
        for mock, local in mock_to_local.items():
            document = document.replace(mock, local)
        sqs.set_queue_attributes(
            QueueUrl=mock_to_local[policy.inputs["queueUrl"]], Attributes={"Policy": document}
        )
        plane.deployed.add(policy.urn)


def _notifications(stack: RenderedStack, s3: Any, plane: DataPlane, mock_to_local: dict[str, str]) -> None:
    for notification in stack.of_type("aws:s3/bucketNotification:BucketNotification"):
        configurations = []
        for position, queue in enumerate(notification.inputs.get("queues", [])):
            rules = [
                {"Name": name, "Value": queue[key]}
                for name, key in (("prefix", "filterPrefix"), ("suffix", "filterSuffix"))
                if queue.get(key)
            ]
            configuration = {
                "Id": f"queue-{position}",
                "QueueArn": mock_to_local[queue["queueArn"]],
                "Events": queue["events"],
            }
            if rules:
                configuration["Filter"] = {"Key": {"FilterRules": rules}}
            configurations.append(configuration)
        bucket = notification.inputs["bucket"]
        live = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
        if _canonical(live) != _canonical(configurations):  # each write makes S3 send an s3:TestEvent
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": configurations}
            )
            plane.notified_queues.update(configuration["QueueArn"] for configuration in configurations)
        plane.deployed.add(notification.urn)


def _canonical(configurations: list[dict[str, Any]]) -> list[str]:
    """Notification configurations comparable across a write and a read (order and Ids aside)."""
    shown = []
    for configuration in configurations:
        kept = {key: value for key, value in configuration.items() if key != "Id"}
        rules = kept.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        if rules:
            kept["Filter"] = sorted((rule["Name"].lower(), rule["Value"]) for rule in rules)
        shown.append(json.dumps(kept, sort_keys=True))
    return sorted(shown)


def _template_data(ec2: Any, template_id: str) -> dict[str, Any]:
    """The default version's data in the shape `_fleet` writes it, to compare with the declared one."""
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])[
        "LaunchTemplateVersions"
    ]
    live = version["LaunchTemplateData"]
    return {
        "ImageId": live.get("ImageId"),
        "InstanceType": live.get("InstanceType"),
        "UserData": live.get("UserData"),
        "MetadataOptions": {"HttpTokens": (live.get("MetadataOptions") or {}).get("HttpTokens")},
    }


def _fleet(stack: RenderedStack, ec2: Any, autoscaling: Any, plane: DataPlane) -> None:
    """The workers' launch template, Auto Scaling group and lifecycle hooks (the local AMI and default
    subnets stand in for the real ones). A re-deploy adds a template version only when the template's
    data changed (an unchanged one adds none) and updates the group."""
    templates = stack.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    groups = stack.of_type("aws:autoscaling/group:Group")
    if not templates or not groups:
        return
    image = ec2.describe_images(ImageIds=[LOCAL_IMAGE_ID])["Images"][0]["ImageId"]
    subnets = [subnet["SubnetId"] for subnet in ec2.describe_subnets()["Subnets"]][:2]
    template_ids = {}
    for template in templates:
        metadata = template.inputs.get("metadataOptions", {})
        data = {
            "ImageId": image,
            "InstanceType": template.inputs["instanceType"],
            "UserData": template.inputs["userData"],
            "MetadataOptions": {"HttpTokens": metadata.get("httpTokens", "optional")},
        }
        name = template.outputs.get("name") or template.name
        existing = ec2.describe_launch_templates(
            Filters=[{"Name": "launch-template-name", "Values": [name]}]
        )["LaunchTemplates"]
        if existing:
            template_id = existing[0]["LaunchTemplateId"]
            if _template_data(ec2, template_id) != data:  # unchanged: no new version, as the provider does
                version = ec2.create_launch_template_version(
                    LaunchTemplateId=template_id, LaunchTemplateData=data
                )
                ec2.modify_launch_template(
                    LaunchTemplateId=template_id,
                    DefaultVersion=str(version["LaunchTemplateVersion"]["VersionNumber"]),
                )
        else:
            template_id = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)[
                "LaunchTemplate"
            ]["LaunchTemplateId"]
        template_ids[template.outputs["id"]] = template_id
        plane.local_values[template.outputs["id"]] = template_id
        plane.deployed.add(template.urn)
    hooks = stack.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")
    for group in groups:
        inputs = group.inputs
        declared_template = (inputs.get("launchTemplate") or {}).get("id")
        template_id = template_ids.get(declared_template, next(iter(template_ids.values())))
        sizes = {
            "MinSize": int(inputs["minSize"]),
            "MaxSize": int(inputs["maxSize"]),
            "DesiredCapacity": int(inputs.get("desiredCapacity", inputs["minSize"])),
            "LaunchTemplate": {"LaunchTemplateId": template_id, "Version": "$Default"},
            "VPCZoneIdentifier": ",".join(subnets),
        }
        name = inputs["name"]
        if autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, **sizes)
        else:
            autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, **sizes)
        declared_hooks = [hook for hook in hooks if hook.inputs["autoscalingGroupName"] == name]
        for hook in declared_hooks:
            autoscaling.put_lifecycle_hook(
                AutoScalingGroupName=name,
                LifecycleHookName=hook.inputs["name"],
                LifecycleTransition=hook.inputs["lifecycleTransition"],
                HeartbeatTimeout=int(hook.inputs.get("heartbeatTimeout", 3600)),
                DefaultResult=hook.inputs.get("defaultResult", "ABANDON"),
            )
            plane.deployed.add(hook.urn)
        kept = {hook.inputs["name"] for hook in declared_hooks} | {
            hook["name"] for hook in inputs.get("initialLifecycleHooks") or []
        }
        for live in autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]:
            if live["LifecycleHookName"] not in kept:
                autoscaling.delete_lifecycle_hook(
                    AutoScalingGroupName=name, LifecycleHookName=live["LifecycleHookName"]
                )
        plane.deployed.add(group.urn)


def _alarms(stack: RenderedStack, cloudwatch: Any, plane: DataPlane) -> None:
    """PutMetricAlarm replaces an alarm of the same name; alarms under the stack's common name prefix
    that the stack no longer declares are deleted (a converged re-deploy)."""
    declared = stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    for alarm in declared:
        cloudwatch.put_metric_alarm(**alarm_parameters(alarm))
        plane.alarms.append(alarm.inputs["name"])
        plane.deployed.add(alarm.urn)
    prefix = os.path.commonprefix(plane.alarms) if len(plane.alarms) > 1 else ""
    prefix = prefix[: prefix.rfind("-") + 1]
    if not prefix:
        return
    live = [
        alarm["AlarmName"]
        for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
        for alarm in page.get("MetricAlarms", [])
    ]
    stale = [name for name in live if name not in plane.alarms]
    if stale:
        cloudwatch.delete_alarms(AlarmNames=stale)


def alarm_parameters(alarm: RecordedResource) -> dict[str, Any]:
    """PutMetricAlarm parameters from a MetricAlarm's Pulumi inputs (actions left out: no SNS locally)."""
    inputs = alarm.inputs
    parameters: dict[str, Any] = {
        "AlarmName": inputs["name"],
        "AlarmDescription": inputs.get("alarmDescription", ""),
        "ComparisonOperator": inputs["comparisonOperator"],
        "EvaluationPeriods": int(inputs["evaluationPeriods"]),
        "Threshold": float(inputs["threshold"]),
        "TreatMissingData": inputs.get("treatMissingData", "missing"),
    }
    if inputs.get("metricName"):
        parameters.update(
            Namespace=inputs["namespace"],
            MetricName=inputs["metricName"],
            Statistic=inputs["statistic"],
            Period=int(inputs["period"]),
            Dimensions=[{"Name": k, "Value": v} for k, v in (inputs.get("dimensions") or {}).items()],
        )
    else:
        parameters["Metrics"] = [_metric_query(query) for query in inputs["metricQueries"]]
    return parameters


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    if query.get("label"):
        result["Label"] = query["label"]
    if query.get("expression"):
        result["Expression"] = query["expression"]
    else:
        metric = query["metric"]
        result["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in (metric.get("dimensions") or {}).items()],
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
    return result


def deployed_outputs(stack: RenderedStack, plane: DataPlane) -> tuple[dict[str, Any], list[str]]:
    """The stack outputs as deployed: (outputs with the endpoint's URLs and ARNs, outputs left out).

    An output is left out when it names a resource that was not deployed locally (the fleet, the
    function, the alarm topic, the dashboard), or is known only after a real deployment (a Lambda
    event source mapping's UUID): printing the mock's value would point at nothing.
    """
    deployed_values: set[str] = set()
    undeployed_values: set[str] = set()
    for resource in stack.resources:
        if not resource.custom:
            continue
        values = {value for value in resource.outputs.values() if isinstance(value, str)}
        (deployed_values if resource.urn in plane.deployed else undeployed_values).update(values)
    undeployed_values -= deployed_values | set(plane.local_values)

    def local(value: Any) -> Any:
        if isinstance(value, str):
            return plane.local_values.get(value, value)
        if isinstance(value, list):
            return [local(item) for item in value]
        if isinstance(value, dict):
            return {key: local(item) for key, item in value.items()}
        return value

    def names_undeployed(value: Any) -> bool:
        if isinstance(value, str):
            return value in undeployed_values or is_unknown(value)
        if isinstance(value, list):
            return any(names_undeployed(item) for item in value)
        if isinstance(value, dict):
            return any(names_undeployed(item) for item in value.values())
        return False

    outputs, left_out = {}, []
    for key, value in stack.outputs.items():
        if names_undeployed(value):
            left_out.append(key)
        else:
            outputs[key] = local(value)
    return outputs, left_out


def declared_worker_environment(stack: RenderedStack) -> dict[str, str]:
    """The EnvironmentFile the launch template's user data writes (docs/worker.md)."""
    for template in stack.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        environment = contract.environment_from_user_data(template.inputs.get("userData") or "")
        if environment:
            return environment
    return {}


def declared_function_environment(stack: RenderedStack) -> dict[str, str]:
    """Lambda mode: the function's environment, plus the queue its event source mapping reads and that
    queue's redrive target as QUEUE_URL and DLQ_URL (the places a worker's EnvironmentFile names)."""
    functions = stack.of_type("aws:lambda/function:Function")
    mappings = stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    if not functions or not mappings:
        return {}
    variables = (functions[0].inputs.get("environment") or {}).get("variables") or {}
    environment = {str(key): str(value) for key, value in variables.items()}
    queues = {queue.outputs.get("arn"): queue for queue in stack.of_type("aws:sqs/queue:Queue")}
    source = queues.get(mappings[0].inputs.get("eventSourceArn"))
    if source is None:
        return environment
    environment[contract.QUEUE_URL] = source.outputs["url"]
    redrive = source.inputs.get("redrivePolicy")
    target = json.loads(redrive).get("deadLetterTargetArn") if isinstance(redrive, str) else None
    if target in queues:
        environment[contract.DLQ_URL] = queues[target].outputs["url"]
    return environment


def _worker_environment(stack: RenderedStack, plane: DataPlane, scale: float) -> dict[str, str]:
    environment = declared_worker_environment(stack) or declared_function_environment(stack)
    if not environment:
        return {}
    by_mock_url = {
        queue.outputs["url"]: plane.queue_urls[queue.outputs["name"]]
        for queue in stack.of_type("aws:sqs/queue:Queue")
    }
    for key in (contract.QUEUE_URL, contract.DLQ_URL):
        if key in environment:
            if environment[key] not in by_mock_url:
                raise ValueError(f"the declared {key} {environment[key]} is no queue of this stack")
            environment[key] = by_mock_url[environment[key]]
    for key in (contract.PROCESSING_TIMEOUT_SECONDS, contract.SHUTDOWN_GRACE_SECONDS):
        if key in environment:
            declared = float(environment[key])
            environment[key] = str(scaled_seconds(declared, scale))
            plane.scaled[key] = (declared, scaled_seconds(declared, scale))
    environment[contract.AWS_DEFAULT_REGION] = plane.region
    return environment


def worker_environment_at(stack: RenderedStack, sqs: Any) -> dict[str, str]:
    """The declared worker environment with the queues' URLs as the endpoint has them (GetQueueUrl by
    the declared names; a ClientError when the stack is not deployed there). {} when none is declared."""
    environment = declared_worker_environment(stack) or declared_function_environment(stack)
    names = {queue.outputs["url"]: queue.outputs["name"] for queue in stack.of_type("aws:sqs/queue:Queue")}
    for key in (contract.QUEUE_URL, contract.DLQ_URL):
        if key in environment:
            name = names.get(environment[key])
            if name is None:
                raise ValueError(f"the declared {key} {environment[key]} is no queue of this stack")
            environment[key] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return environment
