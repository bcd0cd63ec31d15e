"""An outside set written from AWS's documentation alone, by someone who never read the pack.

Each program is a small Pulumi program as another team would write it (pulumi_aws resources,
`json.dumps` policies, `Output.all(...).apply`), with the verdict AWS's documented behaviour gives:

- `passes`: the pipeline works as AWS documents it; the gate must report nothing at all, not even advisory.
- `blocks`: AWS refuses the configuration or silently drops, loses or loops messages; at least one
  mandatory violation.
- `warns`: AWS documents a risk rather than a certain failure; at least one violation of any level.

The set follows every hop an upload, a message and an alarm takes: S3 -> SQS, S3 -> SNS -> SQS,
S3 -> EventBridge -> SQS and CloudWatch -> SNS, each destination's resource policy and KMS key, the
destination constraints, the message lifecycle arithmetic, recursion through any path, and whether a
consumer can exist at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["passes", "blocks", "warns"]


@dataclass(frozen=True)
class DocsProgram:
    source: str
    verdict: Verdict
    reason: str
    aws_page: str
    """The AWS documentation page the verdict rests on."""


# --- AWS pages the verdicts rest on ---
S3_GRANT = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"
S3_NOTIFICATIONS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html"
S3_QUEUE_CONFIG = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-queueconfiguration.html"
S3_EVENTBRIDGE = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html"
)
SNS_TO_SQS = "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"
SNS_KMS = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
SQS_KMS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"
    "#compatibility-with-aws-services"
)
S3_EVENTBRIDGE_BUS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html"
EB_SQS_PERMISSIONS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html"
IAM_LOGIC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
IAM_SERVICE_KEY = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice"
SQS_DLQ = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
)
SQS_REDRIVE_ALLOW = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
)
SQS_VISIBILITY = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
)
LAMBDA_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
LAMBDA_ESM = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
ASG_CAPACITY = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html"
ASG_SQS = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-using-sqs-queue.html"
CW_ALARM_ACTIONS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"
S3_RECURSION = "https://docs.aws.amazon.com/lambda/latest/dg/with-s3-example.html"

# --- building blocks (plain strings; @TOKENS@ are replaced, so the JSON braces stay readable) ---

HEAD = """
account = aws.get_caller_identity()
"""

# The uploads bucket with the guards the S3 security best practices list.
BUCKET = """
bucket = aws.s3.BucketV2("uploads", bucket="acme-uploads")
aws.s3.BucketPublicAccessBlock("uploads", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketServerSideEncryptionConfigurationV2("uploads", bucket=bucket.id, rules=[{
    "apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}])
aws.s3.BucketPolicy("uploads-tls", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
    "Action": "s3:*", "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
"""

# The on-call topic: a customer key whose policy lets CloudWatch use it (SNS developer guide, key management).
ALERTS = """
alerts_key = aws.kms.Key("alerts", description="on-call topic", enable_key_rotation=True, policy=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "@ALERTS_SID@", "Effect": "Allow", "Principal": {"Service": "@ALERTS_SERVICE@"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]}))
alerts = aws.sns.Topic("alerts", name="acme-alerts", kms_master_key_id=@ALERTS_KEY@)
aws.sns.TopicSubscription("on-call", topic=alerts.arn, protocol="email", endpoint="on-call@acme.test")
"""

# A customer key for the queue whose policy grants the services in @GRANTEES@ (a JSON list).
QUEUE_KEY = """
queue_key = aws.kms.Key("jobs", description="jobs queue", enable_key_rotation=True, policy=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Producers", "Effect": "Allow", "Principal": {"Service": @GRANTEES@},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}]}))
aws.kms.Alias("jobs", name="alias/acme-jobs", target_key_id=queue_key.key_id)
"""

# The work queue and its dead-letter queue, with an alarm on the dead-letter queue paging on-call.
QUEUES = """
dlq = aws.sqs.Queue("jobs-dlq", name="acme-jobs-dlq", message_retention_seconds=@DLQ_RETENTION@, @DLQ_ENCRYPTION@)
queue = aws.sqs.Queue("jobs", name="@QUEUE_NAME@", visibility_timeout_seconds=@VISIBILITY@,
    message_retention_seconds=@RETENTION@, receive_wait_time_seconds=20, @ENCRYPTION@)
aws.sqs.RedrivePolicy("jobs", queue_url=queue.id, redrive_policy=@DLQ_ARN@.apply(lambda arn: json.dumps({
    "deadLetterTargetArn": arn, "maxReceiveCount": @MAX_RECEIVE@})))
aws.cloudwatch.MetricAlarm("jobs-dlq-not-empty", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={"QueueName": dlq.name}, statistic="Maximum", period=300, evaluation_periods=1, threshold=0,
    comparison_operator="GreaterThanThreshold", alarm_actions=[alerts.arn])
"""

SSE_SQS = "sqs_managed_sse_enabled=True"
QUEUE_CMK = "kms_master_key_id=queue_key.arn"

# S3 may send to the queue, only for this bucket and account (S3 user guide, granting permissions).
S3_TO_QUEUE_POLICY = """
aws.sqs.QueuePolicy("jobs-from-s3", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, bucket.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "S3Notifications", "Effect": "Allow",
        "Principal": {"Service": "@PRINCIPAL@"}, "Action": "sqs:SendMessage", "Resource": a[0],
        "Condition": {"ArnEquals": {"aws:SourceArn": @SOURCE_ARN@},
                      "StringEquals": {"aws:SourceAccount": @SOURCE_ACCOUNT@}}}]})))
"""

S3_NOTIFY_QUEUE = """
aws.s3.BucketNotification("uploads", bucket=bucket.id, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"]@FILTER@)])
"""

# S3 -> SNS -> SQS as the SNS developer guide builds the fan-out.
TOPIC = """
topic = aws.sns.Topic("uploads", name="acme-uploads"@TOPIC_ENCRYPTION@)
"""
TOPIC_POLICY = """
aws.sns.TopicPolicy("uploads", arn=topic.arn, policy=pulumi.Output.all(topic.arn, bucket.arn).apply(lambda a: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "S3Publish", "Effect": "Allow",
    "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish", "Resource": a[0],
    "Condition": {"ArnLike": {"aws:SourceArn": a[1]}, "StringEquals": {"aws:SourceAccount": account.account_id}}}]})))
"""
SNS_TO_QUEUE_POLICY = """
aws.sqs.QueuePolicy("jobs-from-sns", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, topic.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "TopicDelivery", "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": a[0],
        "Condition": {"ArnEquals": {"aws:SourceArn": @TOPIC_ARN@}}}]})))
"""
SUBSCRIBE_AND_NOTIFY_TOPIC = """
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn, raw_message_delivery=True)
aws.s3.BucketNotification("uploads", bucket=bucket.id, topics=[aws.s3.BucketNotificationTopicArgs(
    topic_arn=topic.arn, events=["s3:ObjectCreated:*"]@FILTER@)])
"""

# S3 -> EventBridge -> SQS: EventBridge delivery on the bucket, a rule on the default bus, a rule-scoped queue policy.
EVENTBRIDGE = """
aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=@EVENTBRIDGE_ON@)
created = aws.cloudwatch.EventRule("uploads-created", event_pattern=bucket.bucket.apply(lambda b: json.dumps({
    "source": ["aws.s3"], "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [b]}@KEY_FILTER@}})))
aws.cloudwatch.EventTarget("uploads-created-to-jobs", rule=created.name, arn=queue.arn)
aws.sqs.QueuePolicy("jobs-from-events", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, created.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "RuleDelivery", "Effect": "Allow",
        "Principal": {"Service": "@EB_PRINCIPAL@"}, "Action": "sqs:SendMessage", "Resource": a[0],
        "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}}}]})))
"""
INCOMING_ONLY = ', "object": {"key": [{"prefix": "incoming/"}]}'

# EC2 workers in an Auto Scaling group; they read uploads and write the index under @INDEX_PREFIX@ of the bucket.
WORKERS = """
worker_role = aws.iam.Role("worker", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicy("worker", role=worker_role.id, policy=pulumi.Output.all(queue.arn, bucket.arn@KEY_ARN@).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                                       "sqs:GetQueueAttributes"], "Resource": a[0]},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{a[1]}/incoming/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{a[1]}/@INDEX_PREFIX@*"}@KEY_STATEMENT@]})))
profile = aws.iam.InstanceProfile("worker", role=worker_role.name)
user_data = pulumi.Output.all(queue.url, bucket.bucket).apply(lambda a: base64.b64encode(f\"\"\"#!/bin/bash
cat > /etc/default/indexer <<ENV
QUEUE_URL={a[0]}
PROCESSING_TIMEOUT_SECONDS=@PROCESSING@
INDEX_BUCKET={a[1]}
INDEX_PREFIX=@INDEX_PREFIX@
ENV
systemctl enable --now indexer
\"\"\".encode()).decode())
template = aws.ec2.LaunchTemplate("worker", image_id="ami-0abcdef1234567890", instance_type="m6i.large",
    user_data=user_data, iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
    metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required", http_put_response_hop_limit=1))
fleet = aws.autoscaling.Group("workers", min_size=@MIN@, max_size=@MAX@, desired_capacity=@DESIRED@,
    availability_zones=["us-east-1a", "us-east-1b"],
    launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest"))
"""
KMS_DECRYPT = ',\n        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": a[2]}'

# Scale the fleet out from zero on queue depth (EC2 Auto Scaling user guide, scaling based on SQS).
SCALE_ON_DEPTH = """
scale_out = aws.autoscaling.Policy("workers-out", autoscaling_group_name=fleet.name, policy_type="StepScaling",
    adjustment_type="ExactCapacity", step_adjustments=[
        aws.autoscaling.PolicyStepAdjustmentArgs(metric_interval_lower_bound="0", scaling_adjustment=2)])
scale_in = aws.autoscaling.Policy("workers-in", autoscaling_group_name=fleet.name, policy_type="StepScaling",
    adjustment_type="ExactCapacity", step_adjustments=[
        aws.autoscaling.PolicyStepAdjustmentArgs(metric_interval_upper_bound="0", scaling_adjustment=0)])
aws.cloudwatch.MetricAlarm("jobs-waiting", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={"QueueName": queue.name}, statistic="Maximum", period=60, evaluation_periods=1, threshold=0,
    comparison_operator="GreaterThanThreshold", alarm_actions=[scale_out.arn])
aws.cloudwatch.MetricAlarm("jobs-idle", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={"QueueName": queue.name}, statistic="Maximum", period=300, evaluation_periods=3, threshold=0,
    comparison_operator="LessThanOrEqualToThreshold", alarm_actions=[scale_in.arn])
"""

# A Lambda consumer as the Lambda developer guide builds it, writing the index under index/.
LAMBDA = """
fn_role = aws.iam.Role("indexer", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("indexer-sqs", role=fn_role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
aws.iam.RolePolicy("indexer-s3", role=fn_role.id, policy=bucket.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{arn}/incoming/*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{arn}/index/*"}]})))
indexer = aws.lambda_.Function("indexer", role=fn_role.arn, runtime="python3.12", handler="index.handler",
    timeout=@TIMEOUT@, environment={"variables": {"INDEX_BUCKET": "acme-uploads", "INDEX_PREFIX": "index/"}},
    code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(event, context):\\n    return None\\n")}))
aws.lambda_.EventSourceMapping("indexer", event_source_arn=queue.arn, function_name=indexer.arn, batch_size=10,
    maximum_batching_window_in_seconds=@WINDOW@, enabled=@ENABLED@,
    function_response_types=["ReportBatchItemFailures"])
"""


def fill(template: str, **tokens: object) -> str:
    for token, value in tokens.items():
        template = template.replace(f"@{token}@", str(value))
    assert "@" not in template.replace("@acme.test", ""), template
    return template


def alerts(service: str = "cloudwatch.amazonaws.com", key: str = "alerts_key.arn") -> str:
    return fill(ALERTS, ALERTS_SID="CloudWatchAlarms", ALERTS_SERVICE=service, ALERTS_KEY=key)


def queues(
    visibility: int = 900,
    retention: int = 345600,
    max_receive: int = 5,
    dlq_retention: int = 1209600,
    encryption: str = SSE_SQS,
    dlq_encryption: str = SSE_SQS,
    queue_name: str = "acme-jobs",
    dlq_arn: str = "dlq.arn",
) -> str:
    return fill(
        QUEUES,
        VISIBILITY=visibility,
        RETENTION=retention,
        MAX_RECEIVE=max_receive,
        DLQ_RETENTION=dlq_retention,
        ENCRYPTION=encryption,
        DLQ_ENCRYPTION=dlq_encryption,
        QUEUE_NAME=queue_name,
        DLQ_ARN=dlq_arn,
    )


def queue_key(*grantees: str) -> str:
    return fill(QUEUE_KEY, GRANTEES=json.dumps(list(grantees)))


def s3_to_queue(
    principal: str = "s3.amazonaws.com",
    source_arn: str = "a[1]",
    source_account: str = "account.account_id",
    prefix: str | None = "incoming/",
    suffix: str | None = None,
) -> str:
    filters = (f', filter_prefix="{prefix}"' if prefix else "") + (
        f', filter_suffix="{suffix}"' if suffix else ""
    )
    return fill(
        S3_TO_QUEUE_POLICY, PRINCIPAL=principal, SOURCE_ARN=source_arn, SOURCE_ACCOUNT=source_account
    ) + fill(S3_NOTIFY_QUEUE, FILTER=filters)


def sns_fan_out(
    topic_encryption: str = "",
    topic_policy: bool = True,
    queue_policy: bool = True,
    topic_arn: str = "a[1]",
    prefix: str | None = "incoming/",
) -> str:
    parts = fill(TOPIC, TOPIC_ENCRYPTION=topic_encryption)
    if topic_policy:
        parts += TOPIC_POLICY
    if queue_policy:
        parts += fill(SNS_TO_QUEUE_POLICY, TOPIC_ARN=topic_arn)
    return parts + fill(SUBSCRIBE_AND_NOTIFY_TOPIC, FILTER=f', filter_prefix="{prefix}"' if prefix else "")


def eventbridge(
    on: bool = True, principal: str = "events.amazonaws.com", key_filter: str = INCOMING_ONLY
) -> str:
    return fill(EVENTBRIDGE, EVENTBRIDGE_ON=on, EB_PRINCIPAL=principal, KEY_FILTER=key_filter)


def on_custom_bus(program: str) -> str:
    """The same rule and target on a custom event bus instead of the default one."""
    return program.replace(
        'created = aws.cloudwatch.EventRule("uploads-created", ',
        'bus = aws.cloudwatch.EventBus("pipeline", name="acme-pipeline")\n'
        'created = aws.cloudwatch.EventRule("uploads-created", event_bus_name=bus.name, ',
    ).replace("rule=created.name, ", "rule=created.name, event_bus_name=bus.name, ")


def workers(
    processing: int = 600,
    index_prefix: str = "index/",
    size: tuple[int, int, int] = (1, 4, 1),
    kms: bool = False,
) -> str:
    minimum, maximum, desired = size
    return fill(
        WORKERS,
        PROCESSING=processing,
        INDEX_PREFIX=index_prefix,
        MIN=minimum,
        MAX=maximum,
        DESIRED=desired,
        KEY_ARN=", queue_key.arn" if kms else "",
        KEY_STATEMENT=KMS_DECRYPT if kms else "",
    )


def lambda_consumer(timeout: int = 60, window: int = 0, enabled: bool = True) -> str:
    return fill(LAMBDA, TIMEOUT=timeout, WINDOW=window, ENABLED=enabled)


def stack(*parts: str, alerts_block: str | None = None) -> str:
    return HEAD + BUCKET + (alerts_block if alerts_block is not None else alerts()) + "".join(parts)


OTHER_ACCOUNT = '"111122223333"'
OTHER_BUCKET = '"arn:aws:s3:::acme-uploads-staging"'
OTHER_TOPIC = '"arn:aws:sns:us-east-1:123456789012:acme-uploads-staging"'


PROGRAMS: dict[str, DocsProgram] = {
    # ===================== correct configurations: the gate must say nothing =====================
    "S3 -> SQS (SSE-SQS), bucket- and account-scoped queue policy, EC2 fleet": DocsProgram(
        stack(queues(), s3_to_queue(), workers()),
        "passes",
        "S3 may send for this bucket and account; SSE-SQS needs no key policy; the fleet consumes",
        S3_GRANT,
    ),
    "S3 -> SQS encrypted with a customer key granting s3.amazonaws.com": DocsProgram(
        stack(queue_key("s3.amazonaws.com"), queues(encryption=QUEUE_CMK), s3_to_queue(), workers(kms=True)),
        "passes",
        "a customer key whose policy grants S3 kms:GenerateDataKey and kms:Decrypt works for S3 notifications",
        SQS_KMS,
    ),
    "S3 -> SNS -> SQS fan-out with topic and queue policies": DocsProgram(
        stack(queues(), sns_fan_out(), workers()),
        "passes",
        "topic admits S3 for this bucket, queue admits SNS for this topic",
        SNS_TO_SQS,
    ),
    "S3 -> SNS (key granting s3) -> SQS (key granting sns)": DocsProgram(
        stack(
            queue_key("s3.amazonaws.com", "sns.amazonaws.com"),
            queues(encryption=QUEUE_CMK),
            sns_fan_out(topic_encryption=", kms_master_key_id=queue_key.arn"),
            workers(kms=True),
        ),
        "passes",
        "each sending service is granted the customer key of the resource it writes to",
        SNS_KMS,
    ),
    "S3 -> EventBridge -> SQS, delivery on, rule-scoped queue policy": DocsProgram(
        stack(queues(), eventbridge(), workers()),
        "passes",
        "EventBridge delivery is on for the bucket and the queue admits events.amazonaws.com for this rule",
        EB_SQS_PERMISSIONS,
    ),
    "S3 -> EventBridge -> SQS encrypted with a key granting events.amazonaws.com": DocsProgram(
        stack(
            queue_key("events.amazonaws.com"), queues(encryption=QUEUE_CMK), eventbridge(), workers(kms=True)
        ),
        "passes",
        "EventBridge can write to a queue whose customer key grants it kms:GenerateDataKey and kms:Decrypt",
        SQS_KMS,
    ),
    "Lambda consumer, visibility 6x the function timeout": DocsProgram(
        stack(queues(visibility=360), s3_to_queue(), lambda_consumer(timeout=60)),
        "passes",
        "visibility 360 s >= 6 x 60 s function timeout",
        LAMBDA_SQS,
    ),
    "dead-letter queue whose redrive-allow policy lists the source": DocsProgram(
        stack(queues(), s3_to_queue(), workers())
        + """
aws.sqs.RedriveAllowPolicy("jobs-dlq", queue_url=dlq.id, redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps({
    "redrivePermission": "byQueue", "sourceQueueArns": [arn]})))
""",
        "passes",
        "byQueue naming the source lets the source redrive to it",
        SQS_DLQ,
    ),
    "index written under a prefix the notification does not watch": DocsProgram(
        stack(queues(), s3_to_queue(prefix="incoming/"), workers(index_prefix="index/")),
        "passes",
        "writes under index/ do not match the incoming/ filter, so no loop",
        S3_RECURSION,
    ),
    "EventBridge rule filtered to incoming/, index in the same bucket": DocsProgram(
        stack(queues(), eventbridge(key_filter=INCOMING_ONLY), workers(index_prefix="index/")),
        "passes",
        "the rule's key prefix filter excludes the index writes",
        S3_EVENTBRIDGE,
    ),
    "fleet at zero that scales out on queue depth": DocsProgram(
        stack(queues(), s3_to_queue(), workers(size=(0, 4, 0)), SCALE_ON_DEPTH),
        "passes",
        "min 0 / desired 0 with a step-scaling policy on ApproximateNumberOfMessagesVisible starts workers on demand",
        ASG_SQS,
    ),
    "retention covers maxReceiveCount x visibility with room to spare": DocsProgram(
        stack(queues(visibility=600, retention=86400, max_receive=3), s3_to_queue(), workers(processing=300)),
        "passes",
        "3 x 600 s = 1800 s << 1 day retention; the DLQ keeps 14 days > 1 day",
        SQS_DLQ,
    ),
    "Lambda consumer with a batching window, visibility 6x timeout plus the window": DocsProgram(
        stack(queues(visibility=390), s3_to_queue(), lambda_consumer(timeout=60, window=30)),
        "passes",
        "390 s covers 6 x 60 s plus the 30 s batching window, whichever formula is applied",
        LAMBDA_SQS,
    ),
    "fleet parked at max 0 while an enabled Lambda mapping consumes": DocsProgram(
        stack(
            queues(visibility=360),
            s3_to_queue(),
            workers(processing=300, size=(0, 0, 0)),
            lambda_consumer(60),
        ),
        "passes",
        "the queue still has a consumer that runs: the Lambda mapping",
        LAMBDA_ESM,
    ),
    # ===================== 1. delivery authorised on every hop =====================
    "S3 -> SQS with no queue policy": DocsProgram(
        stack(queues(), fill(S3_NOTIFY_QUEUE, FILTER=', filter_prefix="incoming/"'), workers()),
        "blocks",
        "S3 needs sqs:SendMessage granted by the queue policy; without it S3 rejects or drops the notification",
        S3_GRANT,
    ),
    "S3 -> SQS, queue policy's aws:SourceArn names another bucket": DocsProgram(
        stack(queues(), s3_to_queue(source_arn=OTHER_BUCKET), workers()),
        "blocks",
        "the condition admits S3 only on behalf of acme-uploads-staging, not this bucket",
        S3_GRANT,
    ),
    "S3 -> SQS, queue policy's aws:SourceAccount is another account": DocsProgram(
        stack(queues(), s3_to_queue(source_account=OTHER_ACCOUNT), workers()),
        "blocks",
        "the bucket is owned by 123456789012, so aws:SourceAccount 111122223333 never matches",
        S3_GRANT,
    ),
    "S3 -> SQS, queue policy admits sns.amazonaws.com instead of s3": DocsProgram(
        stack(queues(), s3_to_queue(principal="sns.amazonaws.com"), workers()),
        "blocks",
        "the sending service is s3.amazonaws.com; a statement for another service principal does not admit it",
        S3_GRANT,
    ),
    "S3 -> SQS, data-perimeter Deny on aws:PrincipalOrgID catches S3": DocsProgram(
        stack(queues(), fill(S3_NOTIFY_QUEUE, FILTER=', filter_prefix="incoming/"'), workers())
        + """
aws.sqs.QueuePolicy("jobs-perimeter", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, bucket.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "S3Notifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": a[0], "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}}},
        {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": a[0],
         "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]})))
""",
        "blocks",
        "service principals carry no aws:PrincipalOrgID, so the explicit Deny applies to S3 "
        "(AWS adds BoolIfExists aws:PrincipalIsAWSService=false to exempt them)",
        IAM_SERVICE_KEY,
    ),
    "S3 -> SQS encrypted with the AWS-managed key alias/aws/sqs": DocsProgram(
        stack(queues(encryption='kms_master_key_id="alias/aws/sqs"'), s3_to_queue(), workers()),
        "blocks",
        "the AWS-managed key's policy cannot grant S3, so S3 cannot encrypt messages for the queue",
        SQS_KMS,
    ),
    "S3 -> SQS encrypted with a customer key that does not grant S3": DocsProgram(
        stack(queue_key("sns.amazonaws.com"), queues(encryption=QUEUE_CMK), s3_to_queue(), workers(kms=True)),
        "blocks",
        "the key policy grants only SNS; S3 needs kms:GenerateDataKey and kms:Decrypt on it",
        SQS_KMS,
    ),
    "S3 -> SNS -> SQS without a topic policy for S3": DocsProgram(
        stack(queues(), sns_fan_out(topic_policy=False), workers()),
        "blocks",
        "the default topic policy admits the owner account's principals, not s3.amazonaws.com",
        S3_GRANT,
    ),
    "S3 -> SNS -> SQS without a queue policy for SNS": DocsProgram(
        stack(queues(), sns_fan_out(queue_policy=False), workers()),
        "blocks",
        "SNS needs sqs:SendMessage from the queue policy to deliver to a subscribed queue",
        SNS_TO_SQS,
    ),
    "S3 -> SNS -> SQS, queue policy scoped to another topic": DocsProgram(
        stack(queues(), sns_fan_out(topic_arn=OTHER_TOPIC), workers()),
        "blocks",
        "aws:SourceArn names acme-uploads-staging, so deliveries from acme-uploads are denied",
        SNS_TO_SQS,
    ),
    "S3 -> SNS encrypted with alias/aws/sns": DocsProgram(
        stack(queues(), sns_fan_out(topic_encryption=', kms_master_key_id="alias/aws/sns"'), workers()),
        "blocks",
        "S3 cannot use the AWS-managed SNS key, whose policy cannot be changed to grant it",
        SNS_KMS,
    ),
    "S3 -> SNS -> SQS encrypted with alias/aws/sqs": DocsProgram(
        stack(queues(encryption='kms_master_key_id="alias/aws/sqs"'), sns_fan_out(), workers()),
        "blocks",
        "SNS cannot use the AWS-managed SQS key to deliver to the queue",
        SNS_KMS,
    ),
    "S3 -> SNS -> SQS encrypted with a customer key that grants only S3": DocsProgram(
        stack(queue_key("s3.amazonaws.com"), queues(encryption=QUEUE_CMK), sns_fan_out(), workers(kms=True)),
        "blocks",
        "the queue's sender is SNS, and the key policy does not grant sns.amazonaws.com",
        SNS_KMS,
    ),
    "S3 -> EventBridge -> SQS with EventBridge delivery off on the bucket": DocsProgram(
        stack(queues(), eventbridge(on=False), workers()),
        "blocks",
        "S3 sends no events to EventBridge until EventBridge is turned on for the bucket; the rule never fires",
        S3_EVENTBRIDGE,
    ),
    "S3 -> EventBridge -> SQS, queue policy admits s3.amazonaws.com only": DocsProgram(
        stack(queues(), eventbridge(principal="s3.amazonaws.com"), workers()),
        "blocks",
        "the rule target is written by events.amazonaws.com, which the queue policy does not admit",
        EB_SQS_PERMISSIONS,
    ),
    "S3 -> EventBridge -> SQS encrypted with alias/aws/sqs": DocsProgram(
        stack(queues(encryption='kms_master_key_id="alias/aws/sqs"'), eventbridge(), workers()),
        "blocks",
        "EventBridge cannot use the AWS-managed SQS key; it needs a customer key that grants it",
        SQS_KMS,
    ),
    "S3 -> EventBridge -> SQS encrypted with a customer key that grants only S3": DocsProgram(
        stack(queue_key("s3.amazonaws.com"), queues(encryption=QUEUE_CMK), eventbridge(), workers(kms=True)),
        "blocks",
        "EventBridge is the sender; the key policy must grant events.amazonaws.com",
        SQS_KMS,
    ),
    "S3 -> SNS encrypted with a customer key that grants only SNS": DocsProgram(
        stack(
            queue_key("sns.amazonaws.com"),
            queues(),
            sns_fan_out(topic_encryption=", kms_master_key_id=queue_key.arn"),
            workers(),
        ),
        "blocks",
        "S3 publishes to the topic and needs kms:GenerateDataKey* and kms:Decrypt on its key",
        SNS_KMS,
    ),
    "S3 -> EventBridge rule on a custom event bus": DocsProgram(
        stack(queues(), on_custom_bus(eventbridge()), workers()),
        "blocks",
        "S3 delivers its events to the account's default event bus only; a rule on another bus never matches",
        S3_EVENTBRIDGE_BUS,
    ),
    "alarm topic encrypted with a customer key that grants S3, not CloudWatch": DocsProgram(
        stack(queues(), s3_to_queue(), workers(), alerts_block=alerts(service="s3.amazonaws.com")),
        "blocks",
        "CloudWatch needs kms:GenerateDataKey* and kms:Decrypt on the topic's key to publish the alarm",
        SNS_KMS,
    ),
    # ===================== 2. destination constraints =====================
    "FIFO queue as the S3 notification destination": DocsProgram(
        stack(
            queues(queue_name="acme-jobs.fifo")
            .replace("receive_wait_time_seconds=20,", "receive_wait_time_seconds=20, fifo_queue=True,")
            .replace('name="acme-jobs-dlq",', 'name="acme-jobs-dlq.fifo", fifo_queue=True,'),
            s3_to_queue(),
            workers(),
        ),
        "blocks",
        "S3 does not allow an SQS FIFO queue as an event notification destination",
        S3_QUEUE_CONFIG,
    ),
    "standard queue redriving to a FIFO dead-letter queue": DocsProgram(
        stack(
            queues().replace('name="acme-jobs-dlq",', 'name="acme-jobs-dlq.fifo", fifo_queue=True,'),
            s3_to_queue(),
            workers(),
        ),
        "blocks",
        "the dead-letter queue of a standard queue must be a standard queue",
        SQS_DLQ,
    ),
    "dead-letter queue in another region": DocsProgram(
        stack(
            'west = aws.Provider("west", region="us-west-2")\n'
            + queues().replace(
                "sqs_managed_sse_enabled=True)\n",
                "sqs_managed_sse_enabled=True,\n    opts=pulumi.ResourceOptions(provider=west))\n",
                1,
            ),
            s3_to_queue(),
            workers(),
        ),
        "blocks",
        "a dead-letter queue must be in the same region as its source queue",
        SQS_DLQ,
    ),
    "dead-letter queue in another account": DocsProgram(
        stack(
            queues(dlq_arn='pulumi.Output.from_input("arn:aws:sqs:us-east-1:111122223333:acme-jobs-dlq")'),
            s3_to_queue(),
            workers(),
        ),
        "blocks",
        "a dead-letter queue must be in the same account as its source queue",
        SQS_DLQ,
    ),
    "dead-letter queue whose redrive-allow policy is denyAll": DocsProgram(
        stack(queues(), s3_to_queue(), workers())
        + """
aws.sqs.RedriveAllowPolicy("jobs-dlq", queue_url=dlq.id, redrive_allow_policy=json.dumps({"redrivePermission": "denyAll"}))
""",
        "blocks",
        "denyAll: no source queue can specify this queue as its dead-letter queue",
        SQS_REDRIVE_ALLOW,
    ),
    "dead-letter queue allowing byQueue another source only": DocsProgram(
        stack(queues(), s3_to_queue(), workers())
        + """
legacy = aws.sqs.Queue("legacy", name="acme-legacy", sqs_managed_sse_enabled=True)
aws.sqs.RedriveAllowPolicy("jobs-dlq", queue_url=dlq.id, redrive_allow_policy=legacy.arn.apply(lambda arn: json.dumps({
    "redrivePermission": "byQueue", "sourceQueueArns": [arn]})))
""",
        "blocks",
        "byQueue lists only acme-legacy, so acme-jobs cannot use this dead-letter queue",
        SQS_REDRIVE_ALLOW,
    ),
    # ===================== 3. message lifecycle arithmetic =====================
    "retention shorter than maxReceiveCount x visibility": DocsProgram(
        stack(queues(visibility=900, retention=3600, max_receive=5), s3_to_queue(), workers()),
        "blocks",
        "a failing message needs 5 x 900 s = 4500 s to reach the DLQ but expires after 3600 s",
        SQS_DLQ,
    ),
    "dead-letter queue keeps messages for less time than the source": DocsProgram(
        stack(queues(retention=345600, dlq_retention=86400), s3_to_queue(), workers()),
        "blocks",
        "a standard DLQ keeps the original enqueue time, so messages older than 1 day are deleted on arrival",
        SQS_DLQ,
    ),
    "Lambda consumer, visibility shorter than the function timeout": DocsProgram(
        stack(queues(visibility=30), s3_to_queue(), lambda_consumer(timeout=60)),
        "blocks",
        "Lambda refuses an SQS mapping whose queue visibility timeout is below the function timeout",
        LAMBDA_SQS,
    ),
    "Lambda consumer, retention shorter than maxReceiveCount x visibility": DocsProgram(
        stack(
            queues(visibility=360, retention=1800, max_receive=10), s3_to_queue(), lambda_consumer(timeout=60)
        ),
        "blocks",
        "a failing batch needs 10 x 360 s = 3600 s to reach the DLQ but expires after 1800 s",
        SQS_DLQ,
    ),
    "Lambda consumer, visibility only 2x the function timeout": DocsProgram(
        stack(queues(visibility=120), s3_to_queue(), lambda_consumer(timeout=60)),
        "warns",
        "AWS asks for at least 6 x the function timeout so throttled retries do not re-deliver",
        LAMBDA_SQS,
    ),
    # ===================== 4. recursion through any path =====================
    "EventBridge rule on every object created, index written to the same bucket": DocsProgram(
        stack(queues(), eventbridge(key_filter=""), workers(index_prefix="index/")),
        "blocks",
        "the index writes are Object Created events of the same bucket, so each one is indexed again",
        S3_RECURSION,
    ),
    "S3 -> SNS -> SQS without a prefix filter, index written to the same bucket": DocsProgram(
        stack(queues(), sns_fan_out(prefix=None), workers(index_prefix="index/")),
        "blocks",
        "every index write is published to the topic and queued again",
        S3_RECURSION,
    ),
    "S3 -> SQS filtered on .json, index written as .json under index/": DocsProgram(
        stack(queues(), s3_to_queue(prefix=None, suffix=".json"), workers(index_prefix="index/")),
        "blocks",
        "the suffix filter matches the index's own .json objects, so the worker triggers itself",
        S3_NOTIFICATIONS,
    ),
    "EventBridge rule filtered to index/ (the index's own prefix)": DocsProgram(
        stack(
            queues(),
            eventbridge(key_filter=', "object": {"key": [{"prefix": "index/"}]}'),
            workers(index_prefix="index/"),
        ),
        "blocks",
        "the rule matches exactly the objects the worker writes",
        S3_RECURSION,
    ),
    # ===================== 5. a consumer that can exist =====================
    "fleet with max_size 0 as the only consumer": DocsProgram(
        stack(queues(), s3_to_queue(), workers(size=(0, 0, 0))),
        "blocks",
        "desired capacity cannot exceed max_size 0, so no instance ever runs and every message expires",
        ASG_CAPACITY,
    ),
    "fleet at desired 0 with no scaling policy as the only consumer": DocsProgram(
        stack(queues(), s3_to_queue(), workers(size=(0, 4, 0))),
        "warns",
        "nothing in the stack ever raises desired capacity from 0; only a manual change would start workers",
        ASG_CAPACITY,
    ),
    "Lambda mapping disabled, the only consumer": DocsProgram(
        stack(queues(visibility=360), s3_to_queue(), lambda_consumer(timeout=60, enabled=False)),
        "warns",
        "a disabled mapping does not poll; messages wait until retention deletes them",
        LAMBDA_ESM,
    ),
}
