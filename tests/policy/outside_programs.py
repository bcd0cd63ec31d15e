"""Pulumi programs as other teams write them, each built from an AWS documentation page, with the
mandatory policies AWS's behaviour says it must fail (empty: it must pass).

None copies this repository's program: they use `aws.s3.BucketV2`, `aws.iam.get_policy_document`,
`json.dumps` policies, `Output.apply`/`Output.all`, Lambda consumers, EventBridge, SNS fan-out. The
false-positive traps the issue lists are here as passing programs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutsideProgram:
    source: str
    fails: frozenset[str]
    aws_page: str
    """The AWS documentation page the expected verdict rests on."""


# A bucket with its guards, written the way the S3 examples of pulumi-aws show them.
BUCKET = """
bucket = aws.s3.BucketV2("uploads", bucket="acme-uploads", force_destroy=True)
aws.s3.BucketPublicAccessBlock("uploads", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketServerSideEncryptionConfigurationV2("uploads", bucket=bucket.id, rules=[
    aws.s3.BucketServerSideEncryptionConfigurationV2RuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms"))])
tls = aws.iam.get_policy_document_output(statements=[aws.iam.GetPolicyDocumentStatementArgs(
    sid="DenyInsecureTransport", effect="Deny", actions=["s3:*"],
    resources=[bucket.arn, bucket.arn.apply(lambda arn: f"{arn}/*")],
    principals=[aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="*", identifiers=["*"])],
    conditions=[aws.iam.GetPolicyDocumentStatementConditionArgs(test="Bool", variable="aws:SecureTransport",
                                                                  values=["false"])])])
aws.s3.BucketPolicy("uploads", bucket=bucket.id, policy=tls.json)
"""

# The queue pair of the SQS developer guide: a work queue redriving to a DLQ that retains longer.
QUEUES = """
dlq = aws.sqs.Queue("jobs-dlq", message_retention_seconds=1209600, sqs_managed_sse_enabled=True)
queue = aws.sqs.Queue("jobs", visibility_timeout_seconds={visibility}, message_retention_seconds=345600,
                      receive_wait_time_seconds=20, sqs_managed_sse_enabled=True)
aws.sqs.RedrivePolicy("jobs", queue_url=queue.id, redrive_policy=dlq.arn.apply(
    lambda arn: json.dumps({{"deadLetterTargetArn": arn, "maxReceiveCount": 5}})))
aws.cloudwatch.MetricAlarm("jobs-dlq-not-empty", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={{"QueueName": dlq.name}}, statistic="Maximum", period=300, evaluation_periods=1, threshold=0,
    comparison_operator="GreaterThanThreshold")
"""

# S3 may send to the queue, only from this bucket and account (SQS developer guide, confused deputy).
S3_MAY_SEND = """
account = aws.get_caller_identity()
aws.sqs.QueuePolicy("jobs", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, bucket.arn).apply(
    lambda args: json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": args[0], "Condition": {"ArnEquals": {"aws:SourceArn": args[1]},
                                           "StringEquals": {"aws:SourceAccount": account.account_id}}}]})))
"""

NOTIFY_QUEUE = """
aws.s3.BucketNotification("uploads", bucket=bucket.id, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/")])
"""

# A Lambda consumer as the Lambda developer guide's SQS tutorial builds it, with the AWS-managed policy.
LAMBDA_CONSUMER = """
role = aws.iam.Role("processor", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
aws.iam.RolePolicyAttachment("processor-sqs", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
function = aws.lambda_.Function("processor", role=role.arn, runtime="python3.12", handler="index.handler",
    timeout=TIMEOUT, code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(event, context):\\n    return None\\n")}))
aws.lambda_.EventSourceMapping("processor", event_source_arn=queue.arn, function_name=function.arn, batch_size=10)
"""

# EC2 workers: a launch template whose user data writes the consumer's environment.
WORKERS = """
worker_role = aws.iam.Role("worker", assume_role_policy=json.dumps({{"Version": "2012-10-17", "Statement": [{{
    "Effect": "Allow", "Principal": {{"Service": "ec2.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}}){role_extra})
profile = aws.iam.InstanceProfile("worker", role=worker_role.name)
user_data = queue.url.apply(lambda url: base64.b64encode(f\"\"\"#!/bin/bash
cat > /etc/default/consumer <<'ENV'
QUEUE_URL={{url}}
PROCESSING_TIMEOUT_SECONDS={processing}
INDEX_BUCKET={index_bucket}
INDEX_PREFIX={index_prefix}
ENV
systemctl enable --now consumer
\"\"\".encode()).decode())
aws.ec2.LaunchTemplate("worker", image_id="ami-0abcdef1234567890", instance_type="m6i.large", user_data=user_data,
    iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
    metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens="required", http_put_response_hop_limit=1))
"""


def workers(
    processing: int = 600,
    index_bucket: str = "acme-index",
    index_prefix: str = "documents/",
    role_extra: str = "",
) -> str:
    return WORKERS.format(
        processing=processing, index_bucket=index_bucket, index_prefix=index_prefix, role_extra=role_extra
    )


# User data written the other usual ways (plain text, Output.all): the script after `#!/bin/bash`.
ECHO_ENVIRONMENT = """echo 'QUEUE_URL={url}' >> /etc/environment
echo "PROCESSING_TIMEOUT_SECONDS=1200" >> /etc/environment
"""
DOCKER_RUN = (
    "docker run -d --restart always -e QUEUE_URL={url} -e PROCESSING_TIMEOUT_SECONDS=1200 acme/worker:1.4\n"
)
SYSTEMD_ENVIRONMENT = """cat > /etc/systemd/system/consumer.service <<'UNIT'
[Service]
Environment="QUEUE_URL={url}" "PROCESSING_TIMEOUT_SECONDS=1200"
ExecStart=/opt/consumer/run
UNIT
"""


def script_workers(script: str, role_extra: str = "") -> str:
    """A launch template whose plain-text user data, built with Output.all, runs `script`."""
    body = script.replace("{url}", "{args[0]}").replace("\n", "\\n")
    return (
        WORKERS.split("user_data =")[0].format(role_extra=role_extra)
        + f'user_data = pulumi.Output.all(queue.url, bucket.bucket).apply(lambda args: f"""#!/bin/bash\\n{body}""")\n'
        + WORKERS[WORKERS.index('aws.ec2.LaunchTemplate("worker"') :]
    )


def legacy_workers(http_tokens: str = "required") -> str:
    """Workers booted by a launch configuration (what Auto Scaling groups used before launch templates)."""
    return (
        WORKERS.split("user_data =")[0].format(role_extra=inline_policy(CONSUME))
        + f"""
aws.ec2.LaunchConfiguration("worker", image_id="ami-0abcdef1234567890", instance_type="m6i.large",
    iam_instance_profile=profile.name,
    user_data=queue.url.apply(lambda url: f"#!/bin/bash\\nexport QUEUE_URL={{url}}\\nexport PROCESSING_TIMEOUT_SECONDS=1200\\n"),
    metadata_options=aws.ec2.LaunchConfigurationMetadataOptionsArgs(http_tokens="{http_tokens}"))
"""
    )


CONSUME = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]


def inline_policy(actions: list[str]) -> str:
    return (
        ', inline_policies=[aws.iam.RoleInlinePolicyArgs(name="consume", policy=queue.arn.apply(lambda arn: '
        f'json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": {actions}, '
        '"Resource": arn}]})))]'
    )


def pipeline(visibility: int = 900) -> str:
    return BUCKET + QUEUES.format(visibility=visibility) + S3_MAY_SEND


def grant(name: str, target: str, service: str, sources: str) -> str:
    """A queue or topic policy letting `service` deliver from `sources` (AWS requires one per hop: S3, SNS and
    EventBridge each need the destination to admit them, https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html,
    https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html)."""
    kind, action = (
        ("sns.TopicPolicy", "sns:Publish")
        if target.startswith("topic")
        else ("sqs.QueuePolicy", "sqs:SendMessage")
    )
    reference = "arn=topic.arn" if kind == "sns.TopicPolicy" else f"queue_url={target}.id"
    return f"""
aws.{kind}("{name}", {reference}, policy=pulumi.Output.all({target}.arn, {sources}).apply(lambda a: json.dumps({{
    "Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "{service}"}},
    "Action": "{action}", "Resource": a[0], "Condition": {{"ArnEquals": {{"aws:SourceArn": a[1:]}}}}}}]}})))
"""


SQS_DLQ = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
)
LAMBDA_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"
IAM_LOGIC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"
S3_FILTERS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html"
EB_RULES = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rules.html"
SNS_KMS = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"

EVENTBRIDGE_QUEUE_POLICY = """
aws.sqs.QueuePolicy("jobs-events", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, {rules}).apply(
    lambda args: json.dumps({{"Version": "2012-10-17", "Statement": [{{
        "Effect": "Allow", "Principal": {{"Service": "events.amazonaws.com"}}, "Action": "sqs:SendMessage",
        "Resource": args[0], "Condition": {{"ArnEquals": {{"aws:SourceArn": args[1:]}}}}}}]}})))
"""


def event_rule(name: str, pattern: str) -> str:
    return f"""
{name} = aws.cloudwatch.EventRule("{name}", event_pattern=bucket.bucket.apply(lambda b: json.dumps({pattern})))
aws.cloudwatch.EventTarget("{name}-to-jobs", rule={name}.name, arn=queue.arn)
"""


CREATED_UNDER_INCOMING = (
    '{"source": ["aws.s3"], "detail-type": ["Object Created"], '
    '"detail": {"bucket": {"name": [b]}, "object": {"key": [{"prefix": "incoming/"}]}}}'
)
CREATED_PDF = (
    '{"source": ["aws.s3"], "detail-type": ["Object Created"], '
    '"detail": {"bucket": {"name": [b]}, "object": {"key": [{"suffix": ".pdf"}]}}}'
)
DELETED = '{"source": ["aws.s3"], "detail-type": ["Object Deleted"], "detail": {"bucket": {"name": [b]}}}'
EVENTBRIDGE_ON = 'aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=True)\n'

ALARM_ON_TOPIC = """
aws.cloudwatch.MetricAlarm("jobs-age", namespace="AWS/SQS", metric_name="ApproximateAgeOfOldestMessage",
    dimensions={"QueueName": queue.name}, statistic="Maximum", period=60, evaluation_periods=5, threshold=900,
    comparison_operator="GreaterThanThreshold", alarm_actions=[topic.arn], ok_actions=[topic.arn])
"""
CMK_FOR_CLOUDWATCH = """
account = aws.get_caller_identity()
key = aws.kms.Key("alerts", enable_key_rotation=True, policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "CloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
     "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]}))
alias = aws.kms.Alias("alerts", name="alias/alerts", target_key_id=key.key_id)
topic = aws.sns.Topic("alerts", kms_master_key_id=alias.name)
"""

PROGRAMS: dict[str, OutsideProgram] = {
    # --- consumers and their permissions ---
    "lambda consumer with the AWS-managed SQS execution policy (6x timeout)": OutsideProgram(
        pipeline(visibility=180) + NOTIFY_QUEUE + LAMBDA_CONSUMER.replace("TIMEOUT", "30"),
        frozenset(),
        LAMBDA_SQS,
    ),
    "lambda consumer, visibility shorter than 6x its timeout": OutsideProgram(
        pipeline(visibility=60) + NOTIFY_QUEUE + LAMBDA_CONSUMER.replace("TIMEOUT", "30"),
        frozenset({"visibility-covers-processing"}),
        LAMBDA_SQS,
    ),
    "worker may delete through an attached customer-managed policy": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(role_extra=inline_policy(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"]))
        + """
ack = aws.iam.Policy("ack", policy=queue.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sqs:DeleteMessage", "sqs:DeleteMessageBatch", "sqs:ChangeMessageVisibility"],
     "Resource": arn}]})))
aws.iam.RolePolicyAttachment("worker-ack", role=worker_role.name, policy_arn=ack.arn)
""",
        frozenset(),
        IAM_LOGIC,
    ),
    "worker denied deletion by an attached guardrail": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(role_extra=', managed_policy_arns=["arn:aws:iam::aws:policy/AmazonSQSFullAccess"]')
        + """
guardrail = aws.iam.Policy("no-destructive-sqs", policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": ["sqs:Delete*", "sqs:Purge*"], "Resource": "*"}]}))
aws.iam.PolicyAttachment("guardrail", roles=[worker_role.name], policy_arn=guardrail.arn)
""",
        frozenset({"consumer-can-delete"}),
        IAM_LOGIC,
    ),
    "worker capped by a permissions boundary without DeleteMessage": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
boundary = aws.iam.Policy("sqs-read-boundary", policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "NotAction": ["sqs:DeleteMessage", "sqs:DeleteMessageBatch"], "Resource": "*"}]}))
"""
        + workers(role_extra=", permissions_boundary=boundary.arn" + inline_policy(["sqs:*"])),
        frozenset({"consumer-can-delete"}),
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html",
    ),
    "worker with a policy from another stack (undecidable, advisory only)": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(role_extra=inline_policy(["sqs:ReceiveMessage"]))
        + 'aws.iam.RolePolicyAttachment("worker-shared", role=worker_role.name, '
        'policy_arn="arn:aws:iam::123456789012:policy/platform/sqs-consumer")\n',
        frozenset(),
        IAM_LOGIC,
    ),
    "worker denied deletion by the queue's own policy": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(role_extra=inline_policy(CONSUME))
        + """
aws.sqs.QueuePolicy("jobs-guard", queue_url=queue.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "NoDestructive", "Effect": "Deny", "Principal": "*",
    "Action": ["sqs:DeleteMessage", "sqs:PurgeQueue"], "Resource": arn}]})))
""",
        frozenset({"consumer-can-delete"}),
        IAM_LOGIC,
    ),
    "worker may delete through the queue's own policy (same account)": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(
            role_extra=inline_policy(
                ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
            )
        )
        + """
aws.sqs.QueuePolicy("jobs-consumer", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, worker_role.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": a[1]},
    "Action": ["sqs:DeleteMessage", "sqs:DeleteMessageBatch"], "Resource": a[0]}]})))
""",
        frozenset(),
        IAM_LOGIC,
    ),
    "worker without ChangeMessageVisibility (no heartbeat, no backoff)": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(
            role_extra=inline_policy(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"])
        ),
        frozenset({"consumer-can-delete"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "workers process longer than the queue hides a message": OutsideProgram(
        pipeline(visibility=300) + NOTIFY_QUEUE + workers(processing=900, role_extra=inline_policy(CONSUME)),
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "workers' environment echoed into /etc/environment (1200 s > visibility 1000 s)": OutsideProgram(
        pipeline(visibility=1000) + NOTIFY_QUEUE + script_workers(ECHO_ENVIRONMENT, inline_policy(CONSUME)),
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "workers run in docker with -e (1200 s > visibility 1000 s)": OutsideProgram(
        pipeline(visibility=1000) + NOTIFY_QUEUE + script_workers(DOCKER_RUN, inline_policy(CONSUME)),
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "systemd Environment= pairs (1200 s > visibility 1000 s)": OutsideProgram(
        pipeline(visibility=1000)
        + NOTIFY_QUEUE
        + script_workers(SYSTEMD_ENVIRONMENT, inline_policy(CONSUME)),
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "echoed environment, processing within visibility (old value only in a comment)": OutsideProgram(
        pipeline(visibility=1000)
        + NOTIFY_QUEUE
        + script_workers(
            "# PROCESSING_TIMEOUT_SECONDS=3600 was the old default\n"
            + ECHO_ENVIRONMENT.replace("1200", "600"),
            inline_policy(CONSUME),
        ),
        frozenset(),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "legacy launch configuration: workers 1200 s, visibility 1000 s": OutsideProgram(
        pipeline(visibility=1000) + NOTIFY_QUEUE + legacy_workers(),
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "legacy launch configuration allowing IMDSv1": OutsideProgram(
        pipeline(visibility=1300) + NOTIFY_QUEUE + legacy_workers(http_tokens="optional"),
        frozenset({"launch-template-imdsv2"}),
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/create-launch-config.html",
    ),
    "instance with user_data_base64: workers 1200 s, visibility 1000 s": OutsideProgram(
        pipeline(visibility=1000)
        + NOTIFY_QUEUE
        + WORKERS.split("user_data =")[0].format(role_extra=inline_policy(CONSUME))
        + """
aws.ec2.Instance("worker", ami="ami-0abcdef1234567890", instance_type="m6i.large", iam_instance_profile=profile.name,
    metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
    user_data_base64=queue.url.apply(lambda url: base64.b64encode(
        f"#!/bin/bash\\nexport QUEUE_URL={url}\\nexport PROCESSING_TIMEOUT_SECONDS=1200\\n".encode()).decode()))
""",
        frozenset({"visibility-covers-processing"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    "output written under an unwatched prefix of the same bucket": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(index_bucket="acme-uploads", index_prefix="processed/", role_extra=inline_policy(CONSUME)),
        frozenset(),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html",
    ),
    "output written under the watched prefix": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + workers(
            index_bucket="acme-uploads", index_prefix="incoming/done/", role_extra=inline_policy(CONSUME)
        ),
        frozenset({"no-recursive-trigger"}),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html",
    ),
    "instance whose user data names the queue ARN, processing unknown (maxProcessingSeconds)": OutsideProgram(
        pipeline(visibility=120)
        + NOTIFY_QUEUE
        + """
role = aws.iam.Role("consumer", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
profile = aws.iam.InstanceProfile("consumer", role=role.name)
aws.ec2.Instance("consumer", ami="ami-0abcdef1234567890", instance_type="t3.small", iam_instance_profile=profile.name,
    metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"),
    user_data=queue.arn.apply(lambda arn: f"#!/bin/bash\\n/opt/consumer/run --queue-arn {arn}\\n"))
""",
        frozenset({"visibility-covers-processing", "consumer-can-delete"}),
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html",
    ),
    # --- queue roles ---
    "redrive policy declared on the dead-letter queue (swapped)": OutsideProgram(
        BUCKET
        + """
work = aws.sqs.Queue("work", visibility_timeout_seconds=900, receive_wait_time_seconds=20, sqs_managed_sse_enabled=True)
dead = aws.sqs.Queue("dead", message_retention_seconds=1209600, sqs_managed_sse_enabled=True,
    redrive_policy=work.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})))
queue = work
"""
        + S3_MAY_SEND
        + NOTIFY_QUEUE,
        frozenset({"dead-letter-queue-required"}),
        SQS_DLQ,
    ),
    "FIFO queue with a standard dead-letter queue": OutsideProgram(
        """
dlq = aws.sqs.Queue("orders-dlq", message_retention_seconds=1209600)
queue = aws.sqs.Queue("orders.fifo", name="orders.fifo", fifo_queue=True, content_based_deduplication=True,
    visibility_timeout_seconds=180, receive_wait_time_seconds=20,
    redrive_policy=dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 4})))
"""
        + LAMBDA_CONSUMER.replace("TIMEOUT", "30"),
        frozenset({"dead-letter-queue-required"}),
        SQS_DLQ,
    ),
    "source and dead-letter queue both at the 14-day maximum": OutsideProgram(
        BUCKET
        + QUEUES.format(visibility=900).replace(
            "message_retention_seconds=345600", "message_retention_seconds=1209600"
        )
        + S3_MAY_SEND
        + NOTIFY_QUEUE,
        frozenset({"dead-letter-queue-required"}),
        SQS_DLQ,
    ),
    # --- delivery paths ---
    "disjoint suffixes on one bucket": OutsideProgram(
        pipeline()
        + """
images = aws.sqs.Queue("images", visibility_timeout_seconds=900, sqs_managed_sse_enabled=True,
    redrive_policy=dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})))
aws.s3.BucketNotification("uploads", bucket=bucket.id, queues=[
    aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/", filter_suffix=".pdf"),
    aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/", filter_suffix=".docx"),
    aws.s3.BucketNotificationQueueArgs(queue_arn=images.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/", filter_suffix=".jpg"),
])
"""
        + grant("images", "images", "s3.amazonaws.com", "bucket.arn"),
        frozenset(),
        S3_FILTERS,
    ),
    "created and removed events to two queues under one prefix": OutsideProgram(
        pipeline()
        + """
removals = aws.sqs.Queue("removals", sqs_managed_sse_enabled=True,
    redrive_policy=dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})))
aws.s3.BucketNotification("uploads", bucket=bucket.id, queues=[
    aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/"),
    aws.s3.BucketNotificationQueueArgs(queue_arn=removals.arn, events=["s3:ObjectRemoved:*"], filter_prefix="incoming/"),
])
"""
        + grant("removals", "removals", "s3.amazonaws.com", "bucket.arn"),
        frozenset(),
        S3_FILTERS,
    ),
    "overlapping prefixes for the same event": OutsideProgram(
        pipeline()
        + """
aws.s3.BucketNotification("uploads", bucket=bucket.id, queues=[
    aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/"),
    aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["s3:ObjectCreated:Put"], filter_prefix="incoming/large/"),
])
""",
        frozenset({"one-notification-per-bucket"}),
        S3_FILTERS,
    ),
    "two buckets, each with one notification to the same queue": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
archive = aws.s3.BucketV2("archive", bucket="acme-archive")
aws.s3.BucketPublicAccessBlock("archive", bucket=archive.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketPolicy("archive", bucket=archive.id, policy=archive.arn.apply(lambda arn: json.dumps({"Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
aws.s3.BucketNotification("archive", bucket=archive.id, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"])])
"""
        + grant("jobs-archive", "queue", "s3.amazonaws.com", "archive.arn"),
        frozenset(),
        S3_FILTERS,
    ),
    "one bucket notified by id and by its literal name": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
aws.s3.BucketNotification("uploads-legacy", bucket="acme-uploads", queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="legacy/")])
""",
        frozenset({"one-notification-per-bucket"}),
        "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html",
    ),
    "one EventBridge rule to the queue": OutsideProgram(
        pipeline()
        + EVENTBRIDGE_ON
        + event_rule("created", CREATED_UNDER_INCOMING)
        + EVENTBRIDGE_QUEUE_POLICY.format(rules="created.arn"),
        frozenset(),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html",
    ),
    "two EventBridge rules matching the same uploads, same queue": OutsideProgram(
        pipeline()
        + EVENTBRIDGE_ON
        + event_rule("created", CREATED_UNDER_INCOMING)
        + event_rule("pdfs", CREATED_PDF)
        + EVENTBRIDGE_QUEUE_POLICY.format(rules="created.arn, pdfs.arn"),
        frozenset({"one-notification-per-bucket"}),
        EB_RULES,
    ),
    "EventBridge rules for created and deleted objects, same queue": OutsideProgram(
        pipeline()
        + EVENTBRIDGE_ON
        + event_rule("created", CREATED_UNDER_INCOMING)
        + event_rule("deleted", DELETED)
        + EVENTBRIDGE_QUEUE_POLICY.format(rules="created.arn, deleted.arn"),
        frozenset(),
        EB_RULES,
    ),
    "direct notification plus an EventBridge rule to the same queue": OutsideProgram(
        pipeline()
        + """
aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=True, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/")])
"""
        + event_rule("created", CREATED_PDF)
        + EVENTBRIDGE_QUEUE_POLICY.format(rules="created.arn"),
        frozenset({"one-notification-per-bucket"}),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html",
    ),
    "S3 to SNS to SQS fan-out": OutsideProgram(
        pipeline()
        + """
topic = aws.sns.Topic("uploads")
aws.sns.TopicPolicy("uploads", arn=topic.arn, policy=pulumi.Output.all(topic.arn, bucket.arn).apply(lambda a: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
    "Action": "SNS:Publish", "Resource": a[0], "Condition": {"ArnLike": {"aws:SourceArn": a[1]}}}]})))
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn, raw_message_delivery=True)
aws.s3.BucketNotification("uploads", bucket=bucket.id, topics=[aws.s3.BucketNotificationTopicArgs(
    topic_arn=topic.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/")])
"""
        + grant("jobs-from-topic", "queue", "sns.amazonaws.com", "topic.arn"),
        frozenset(),
        "https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html",
    ),
    "S3 to SNS to SQS beside an EventBridge rule to the same queue": OutsideProgram(
        pipeline()
        + """
topic = aws.sns.Topic("uploads")
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn)
aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=True, topics=[aws.s3.BucketNotificationTopicArgs(
    topic_arn=topic.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/")])
"""
        + event_rule("created", CREATED_UNDER_INCOMING)
        + grant("uploads", "topic", "s3.amazonaws.com", "bucket.arn")
        + grant("jobs-from-topic", "queue", "sns.amazonaws.com", "topic.arn")
        + EVENTBRIDGE_QUEUE_POLICY.format(rules="created.arn"),
        frozenset({"one-notification-per-bucket"}),
        EB_RULES,
    ),
    "EventBridge rule to an SNS topic the queue subscribes to, beside a direct notification": OutsideProgram(
        pipeline()
        + """
topic = aws.sns.Topic("uploads")
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn, raw_message_delivery=True)
aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=True, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="incoming/")])
created = aws.cloudwatch.EventRule("created", event_pattern=bucket.bucket.apply(lambda b: json.dumps({
    "source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [b]}}})))
aws.cloudwatch.EventTarget("created-to-topic", rule=created.name, arn=topic.arn)
"""
        + grant("uploads", "topic", "events.amazonaws.com", "created.arn")
        + grant("jobs-from-topic", "queue", "sns.amazonaws.com", "topic.arn"),
        frozenset({"one-notification-per-bucket"}),
        EB_RULES,
    ),
    "EventBridge rule to an SNS topic the queue subscribes to, the only path": OutsideProgram(
        pipeline()
        + """
topic = aws.sns.Topic("uploads")
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn, raw_message_delivery=True)
aws.s3.BucketNotification("uploads", bucket=bucket.id, eventbridge=True)
created = aws.cloudwatch.EventRule("created", event_pattern=bucket.bucket.apply(lambda b: json.dumps({
    "source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [b]}}})))
aws.cloudwatch.EventTarget("created-to-topic", rule=created.name, arn=topic.arn)
"""
        + grant("uploads", "topic", "events.amazonaws.com", "created.arn")
        + grant("jobs-from-topic", "queue", "sns.amazonaws.com", "topic.arn"),
        frozenset(),
        EB_RULES,
    ),
    "queue policy letting any SNS topic send": OutsideProgram(
        pipeline()
        + """
topic = aws.sns.Topic("uploads")
aws.sqs.QueuePolicy("jobs-from-sns", queue_url=queue.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
    "Action": "sqs:SendMessage", "Resource": arn}]})))
aws.sns.TopicSubscription("jobs", topic=topic.arn, protocol="sqs", endpoint=queue.arn)
""",
        frozenset({"queue-policy-source-conditions"}),
        "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html",
    ),
    "organization-wide queue policy (aws:PrincipalOrgID)": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
aws.sqs.QueuePolicy("jobs-org", queue_url=queue.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "OrgProducers", "Effect": "Allow", "Principal": {"AWS": "*"},
    "Action": "sqs:SendMessage", "Resource": arn, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]})))
""",
        frozenset(),
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html",
    ),
    "queue policy letting anyone send (no condition)": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
aws.sqs.QueuePolicy("jobs-open", queue_url=queue.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": arn}]})))
""",
        frozenset({"queue-policy-source-conditions"}),
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html",
    ),
    # --- alarms ---
    "alarm topic encrypted with alias/aws/sns": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + 'topic = aws.sns.Topic("alerts", kms_master_key_id="alias/aws/sns")\n'
        + ALARM_ON_TOPIC,
        frozenset({"alarms-reach-someone"}),
        SNS_KMS,
    ),
    "composite alarm publishing to a topic encrypted with alias/aws/sns": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + """
topic = aws.sns.Topic("alerts", kms_master_key_id="alias/aws/sns")
age = aws.cloudwatch.MetricAlarm("jobs-age", namespace="AWS/SQS", metric_name="ApproximateAgeOfOldestMessage",
    dimensions={"QueueName": queue.name}, statistic="Maximum", period=60, evaluation_periods=5, threshold=900,
    comparison_operator="GreaterThanThreshold")
aws.cloudwatch.CompositeAlarm("pipeline", alarm_name="pipeline", alarm_rule=age.name.apply(lambda n: f"ALARM({n})"),
    alarm_actions=[topic.arn])
""",
        frozenset({"alarms-reach-someone"}),
        SNS_KMS,
    ),
    "alarm topic encrypted with a key CloudWatch may use": OutsideProgram(
        pipeline() + NOTIFY_QUEUE + CMK_FOR_CLOUDWATCH + ALARM_ON_TOPIC, frozenset(), SNS_KMS
    ),
    "alarm topic encrypted with a key of default policy": OutsideProgram(
        pipeline()
        + NOTIFY_QUEUE
        + 'key = aws.kms.Key("alerts")\ntopic = aws.sns.Topic("alerts", kms_master_key_id=key.arn)\n'
        + ALARM_ON_TOPIC,
        frozenset({"alarms-reach-someone"}),
        SNS_KMS,
    ),
    # --- security against AWS's current defaults ---
    "minimal published example: a bucket and a queue left to AWS's defaults": OutsideProgram(
        """
bucket = aws.s3.BucketV2("my-bucket")
queue = aws.sqs.Queue("my-queue")
pulumi.export("bucket_name", bucket.id)
pulumi.export("queue_url", queue.url)
""",
        frozenset({"s3-tls-only"}),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html",
    ),
    "explicitly insecure settings": OutsideProgram(
        """
bucket = aws.s3.BucketV2("public-assets", bucket="acme-public-assets")
aws.s3.BucketPublicAccessBlock("public-assets", bucket=bucket.id, block_public_acls=False, block_public_policy=False,
                               ignore_public_acls=False, restrict_public_buckets=False)
aws.s3.BucketPolicy("public-assets", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({"Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
aws.sqs.Queue("plain", sqs_managed_sse_enabled=False)
sg = aws.ec2.SecurityGroup("bastion", ingress=[aws.ec2.SecurityGroupIngressArgs(
    protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"])])
aws.ec2.Instance("bastion", ami="ami-0abcdef1234567890", instance_type="t3.micro", vpc_security_group_ids=[sg.id],
    metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="optional", http_put_response_hop_limit=3))
""",
        frozenset(
            {
                "s3-public-access-blocked",
                "sqs-encryption-at-rest",
                "no-open-ingress",
                "launch-template-imdsv2",
            }
        ),
        "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-new-instances.html",
    ),
    "public load balancer listening on 443": OutsideProgram(
        """
sg = aws.ec2.SecurityGroup("alb", description="public HTTPS", ingress=[aws.ec2.SecurityGroupIngressArgs(
    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], ipv6_cidr_blocks=["::/0"])])
""",
        frozenset(),
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-update-security-groups.html",
    ),
}
