"""A second outside set written from AWS's documentation alone, by someone who never read the pack.

It reuses the building blocks and verdicts of `aws_docs_programs` (`passes`: nothing at all reported;
`blocks`: at least one mandatory violation; `warns`: at least one violation of any level) and covers what
the first set does not: how IAM condition operators treat wildcards and lists (`ArnLike`, `ArnEquals`,
`StringLike`, `StringEquals`), `Principal: "*"` scoped by `aws:SourceArn`, an explicit Deny with
`NotPrincipal`, a queue policy given as the queue's own `policy` argument, keys named through an
`aws.kms.Alias` resource, redrive given as the queue's `redrive_policy` argument, retention arithmetic at
exact equality, recursion through SNS prefix filters and EventBridge key patterns, alarm delivery to SNS,
and a fleet that cannot run next to a Lambda mapping on the wrong queue.
"""

from __future__ import annotations

from tests.policy.aws_docs_programs import (
    EVENTBRIDGE,
    S3_NOTIFY_QUEUE,
    SQS_DLQ,
    SQS_KMS,
    DocsProgram,
    fill,
    lambda_consumer,
    queue_key,
    queues,
    s3_to_queue,
    sns_fan_out,
    stack,
    workers,
)

# --- AWS pages the verdicts rest on ---
IAM_ARN_OPERATORS = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
    "#Conditions_ARN"
)
IAM_STRING_OPERATORS = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
    "#Conditions_String"
)
IAM_MULTIVALUE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html"
IAM_NOT_PRINCIPAL = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"
)
SNS_SQS_POLICY = "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"
S3_GRANT = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"
KMS_ALIAS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
)
EB_PATTERN_ARRAYS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html"
EB_PATTERN_OPERATORS = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html"
)
S3_RECURSION = "https://docs.aws.amazon.com/lambda/latest/dg/with-s3-example.html"
CW_SNS_POLICY = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"
SNS_KMS = "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
LAMBDA_ESM = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
ASG_CAPACITY = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-capacity-limits.html"
SQS_DLQ_TYPE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue.html"
SQS_DLQ_RETENTION = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "setting-up-dead-letter-queue-retention.html"
)
S3_DESTINATIONS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html"

QUEUE_POLICY_MARK = 'aws.sqs.QueuePolicy("jobs-from-s3"'


def s3_condition(condition: str, prefix: str = "incoming/") -> str:
    """S3 -> SQS whose queue policy has the given Condition block (Python source of a dict)."""
    return f"""
aws.sqs.QueuePolicy("jobs-from-s3", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, bucket.arn).apply(
    lambda a: json.dumps({{"Version": "2012-10-17", "Statement": [{{"Sid": "S3Notifications", "Effect": "Allow",
        "Principal": {{"Service": "s3.amazonaws.com"}}, "Action": "sqs:SendMessage", "Resource": a[0],
        "Condition": {condition}}}]}})))
""" + fill(S3_NOTIFY_QUEUE, FILTER=f', filter_prefix="{prefix}"')


def queue_policy_argument(statements: str) -> str:
    """The queue policy given as aws.sqs.Queue(policy=...), built from the queue's own name (no QueuePolicy)."""
    return queues().replace(
        "receive_wait_time_seconds=20,",
        'receive_wait_time_seconds=20, policy=json.dumps({"Version": "2012-10-17", "Statement": '
        + statements
        + "}),",
    )


SELF_ARN = 'f"arn:aws:sqs:us-east-1:{account.account_id}:acme-jobs"'


def redrive_argument(visibility: int, retention: int, max_receive: int, dlq_retention: int = 1209600) -> str:
    """Queues whose redrive is the queue's redrive_policy argument, not an aws.sqs.RedrivePolicy resource."""
    return f"""
dlq = aws.sqs.Queue("jobs-dlq", name="acme-jobs-dlq", message_retention_seconds={dlq_retention},
    sqs_managed_sse_enabled=True)
queue = aws.sqs.Queue("jobs", name="acme-jobs", visibility_timeout_seconds={visibility},
    message_retention_seconds={retention}, receive_wait_time_seconds=20, sqs_managed_sse_enabled=True,
    redrive_policy=dlq.arn.apply(lambda arn: json.dumps({{"deadLetterTargetArn": arn, "maxReceiveCount": {max_receive}}})))
aws.cloudwatch.MetricAlarm("jobs-dlq-not-empty", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={{"QueueName": dlq.name}}, statistic="Maximum", period=300, evaluation_periods=1, threshold=0,
    comparison_operator="GreaterThanThreshold", alarm_actions=[alerts.arn])
"""


def alias_key(*grantees: str) -> str:
    """A customer key granting the services, with an alias resource the queue names instead of the key."""
    return queue_key(*grantees).replace('aws.kms.Alias("jobs"', 'jobs_alias = aws.kms.Alias("jobs"')


def eventbridge_key(key_filter: str) -> str:
    return fill(EVENTBRIDGE, EVENTBRIDGE_ON=True, EB_PRINCIPAL="events.amazonaws.com", KEY_FILTER=key_filter)


# SNS -> SQS with Principal "*" scoped by aws:SourceArn to this topic (the older form the SNS guide showed).
ANY_PRINCIPAL_FOR_TOPIC = """
aws.sqs.QueuePolicy("jobs-from-sns", queue_url=queue.id, policy=pulumi.Output.all(queue.arn, topic.arn).apply(
    lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "TopicDelivery", "Effect": "Allow",
        "Principal": "*", "Action": "sqs:SendMessage", "Resource": a[0],
        "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}}}]})))
"""

# The alarm topic with a topic policy that replaces the default one and admits only S3.
ALERTS_POLICY_S3_ONLY = """
aws.sns.TopicPolicy("alerts", arn=alerts.arn, policy=pulumi.Output.all(alerts.arn, bucket.arn).apply(lambda a: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "S3Only", "Effect": "Allow",
    "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish", "Resource": a[0],
    "Condition": {"ArnLike": {"aws:SourceArn": a[1]}}}]})))
"""

ALERTS_MANAGED_KEY = """
alerts = aws.sns.Topic("alerts", name="acme-alerts", kms_master_key_id="alias/aws/sns")
aws.sns.TopicSubscription("on-call", topic=alerts.arn, protocol="email", endpoint="on-call@acme.test")
"""


def without_s3_queue_policy(program: str) -> str:
    """Drop the QueuePolicy resource s3_to_queue() adds, leaving only its BucketNotification."""
    start = program.index(QUEUE_POLICY_MARK)
    end = program.index("aws.s3.BucketNotification", start)
    return program[:start] + program[end:]


PROGRAMS: dict[str, DocsProgram] = {
    # ===================== correct configurations: the gate must say nothing =====================
    "Queue(policy=...) admitting S3 with ArnLike on a bucket-name wildcard": DocsProgram(
        stack(
            queue_policy_argument(
                '[{"Sid": "S3Notifications", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, '
                '"Action": "sqs:SendMessage", "Resource": ' + SELF_ARN + ", "
                '"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::acme-*"}, '
                '"StringEquals": {"aws:SourceAccount": account.account_id}}}]'
            ),
            without_s3_queue_policy(s3_to_queue()),
            workers(),
        ),
        "passes",
        "ArnLike matches arn:aws:s3:::acme-uploads against arn:aws:s3:::acme-*; a policy given as the queue's "
        "Policy attribute is the queue policy",
        S3_GRANT,
    ),
    "S3 -> SQS, ArnEquals with a wildcard (ArnEquals matches wildcards like ArnLike)": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::acme-*"}, '
                '"StringEquals": {"aws:SourceAccount": account.account_id}}'
            ),
            workers(),
        ),
        "passes",
        "the ARN operators (ArnEquals and ArnLike) both match each ARN component with * wildcards",
        IAM_ARN_OPERATORS,
    ),
    "S3 -> SQS, StringLike on aws:SourceArn with a wildcard": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"StringLike": {"aws:SourceArn": "arn:aws:s3:::acme-up*"}, '
                '"StringEquals": {"aws:SourceAccount": account.account_id}}'
            ),
            workers(),
        ),
        "passes",
        "StringLike matches * as a multi-character wildcard anywhere in the string",
        IAM_STRING_OPERATORS,
    ),
    "S3 -> SQS, condition values given as lists (staging and this bucket)": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"ArnEquals": {"aws:SourceArn": ["arn:aws:s3:::acme-uploads-staging", a[1]]}, '
                '"StringEquals": {"aws:SourceAccount": ["111122223333", account.account_id]}}'
            ),
            workers(),
        ),
        "passes",
        "several values for one condition key are ORed: this bucket and this account are in the lists",
        IAM_MULTIVALUE,
    ),
    'S3 -> SNS -> SQS, queue admits Principal "*" scoped by aws:SourceArn to the topic': DocsProgram(
        stack(queues(), sns_fan_out(queue_policy=False) + ANY_PRINCIPAL_FOR_TOPIC, workers()),
        "passes",
        'Principal "*" includes the SNS service; aws:SourceArn limits it to this topic',
        SNS_SQS_POLICY,
    ),
    "S3 -> SQS encrypted with a customer key named through its aws.kms.Alias resource": DocsProgram(
        stack(
            alias_key("s3.amazonaws.com"),
            queues(encryption="kms_master_key_id=jobs_alias.name"),
            s3_to_queue(),
            workers(kms=True),
        ),
        "passes",
        "KmsMasterKeyId may be an alias; alias/acme-jobs names a key whose policy grants S3",
        SQS_KMS,
    ),
    "EventBridge rule with a wildcard key filter on incoming/*.csv, index in the same bucket": DocsProgram(
        stack(
            queues(),
            eventbridge_key(', "object": {"key": [{"wildcard": "incoming/*.csv"}]}'),
            workers(index_prefix="index/"),
        ),
        "passes",
        "the wildcard pattern only matches keys under incoming/, never the index writes",
        EB_PATTERN_OPERATORS,
    ),
    "S3 -> SQS encrypted with the alias ARN of a key granting S3": DocsProgram(
        stack(
            alias_key("s3.amazonaws.com"),
            queues(encryption="kms_master_key_id=jobs_alias.arn"),
            s3_to_queue(),
            workers(kms=True),
        ),
        "passes",
        "KmsMasterKeyId accepts an alias ARN; it names a key whose policy grants S3",
        KMS_ALIAS,
    ),
    "S3 -> SQS encrypted with the literal alias name of a key of the stack granting S3": DocsProgram(
        stack(
            alias_key("s3.amazonaws.com"),
            queues(encryption='kms_master_key_id="alias/acme-jobs"'),
            s3_to_queue(),
            workers(kms=True),
        ),
        "passes",
        "alias/acme-jobs is the alias this stack declares for a key whose policy grants S3",
        KMS_ALIAS,
    ),
    "S3 -> SQS, ArnLike with wildcard Region and account as the S3 guide writes it": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:acme-uploads"}, '
                '"StringEquals": {"aws:SourceAccount": account.account_id}}'
            ),
            workers(),
        ),
        "passes",
        "each ARN component is matched separately and * matches the empty Region and account of a bucket ARN",
        S3_GRANT,
    ),
    "alarm topic policy admitting CloudWatch for this account's alarms by ArnLike": DocsProgram(
        stack(queues(), s3_to_queue(), workers())
        + """
aws.sns.TopicPolicy("alerts", arn=alerts.arn, policy=alerts.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Sid": "Alarms", "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": arn,
    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{account.account_id}:alarm:*"},
                  "StringEquals": {"aws:SourceAccount": account.account_id}}}]})))
""",
        "passes",
        "the topic policy admits cloudwatch.amazonaws.com for every alarm of this account and Region",
        CW_SNS_POLICY,
    ),
    # ===================== 1. delivery authorised on every hop =====================
    "S3 -> SQS, StringEquals with a wildcard in aws:SourceArn": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"StringEquals": {"aws:SourceArn": "arn:aws:s3:::acme-*", "aws:SourceAccount": account.account_id}}'
            ),
            workers(),
        ),
        "blocks",
        "StringEquals is an exact match: * is a literal there, so arn:aws:s3:::acme-uploads never matches",
        IAM_STRING_OPERATORS,
    ),
    "S3 -> SQS, ArnLike wildcard naming another bucket family": DocsProgram(
        stack(
            queues(),
            s3_condition(
                '{"ArnLike": {"aws:SourceArn": "arn:aws:s3:::prod-*"}, '
                '"StringEquals": {"aws:SourceAccount": account.account_id}}'
            ),
            workers(),
        ),
        "blocks",
        "arn:aws:s3:::acme-uploads does not match arn:aws:s3:::prod-*, so S3 is not allowed to send",
        IAM_ARN_OPERATORS,
    ),
    "S3 -> SQS, queue policy adds a Deny with NotPrincipal the account root": DocsProgram(
        stack(queues(), s3_to_queue(), workers()).replace(
            '"Condition": {"ArnEquals": {"aws:SourceArn": a[1]},\n'
            '                      "StringEquals": {"aws:SourceAccount": account.account_id}}}]})))',
            '"Condition": {"ArnEquals": {"aws:SourceArn": a[1]},\n'
            '                      "StringEquals": {"aws:SourceAccount": account.account_id}}},\n'
            '        {"Sid": "OnlyThisAccount", "Effect": "Deny",\n'
            '         "NotPrincipal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},\n'
            '         "Action": "sqs:*", "Resource": a[0]}]})))',
        ),
        "blocks",
        "Deny with NotPrincipal denies every principal not listed, the S3 service included; the Deny wins",
        IAM_NOT_PRINCIPAL,
    ),
    "S3 -> SNS -> SQS, Queue(policy=...) admits SNS with the bucket as aws:SourceArn": DocsProgram(
        stack(
            queue_policy_argument(
                '[{"Sid": "TopicDelivery", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, '
                '"Action": "sqs:SendMessage", "Resource": ' + SELF_ARN + ", "
                '"Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::acme-uploads"}}}]'
            ),
            sns_fan_out(queue_policy=False),
            workers(),
        ),
        "blocks",
        "SNS delivers with the topic as aws:SourceArn, not the bucket, so the queue refuses every delivery",
        SNS_SQS_POLICY,
    ),
    "S3 -> SQS encrypted through an aws.kms.Alias whose key grants only SNS": DocsProgram(
        stack(
            alias_key("sns.amazonaws.com"),
            queues(encryption="kms_master_key_id=jobs_alias.name"),
            s3_to_queue(),
            workers(kms=True),
        ),
        "blocks",
        "the alias resolves to a key whose policy does not grant S3 kms:GenerateDataKey and kms:Decrypt",
        SQS_KMS,
    ),
    "S3 -> SQS encrypted with a key ARN whose policy grants S3 only kms:Decrypt": DocsProgram(
        stack(
            queue_key("s3.amazonaws.com").replace(
                '"Action": ["kms:GenerateDataKey", "kms:Decrypt"]', '"Action": "kms:Decrypt"'
            ),
            queues(encryption="kms_master_key_id=queue_key.arn"),
            s3_to_queue(),
            workers(kms=True),
        ),
        "blocks",
        "S3 needs kms:GenerateDataKey as well as kms:Decrypt to send to an encrypted queue",
        SQS_KMS,
    ),
    "alarm topic whose topic policy admits only S3": DocsProgram(
        stack(queues(), s3_to_queue(), workers()) + ALERTS_POLICY_S3_ONLY,
        "blocks",
        "the topic policy replaces the default one; cloudwatch.amazonaws.com may no longer publish the alarm",
        CW_SNS_POLICY,
    ),
    "alarm topic encrypted with the AWS-managed key alias/aws/sns": DocsProgram(
        stack(queues(), s3_to_queue(), workers(), alerts_block=ALERTS_MANAGED_KEY),
        "blocks",
        "CloudWatch cannot use the AWS-managed SNS key, whose policy cannot grant it; alarms never arrive",
        SNS_KMS,
    ),
    "alarm topic key granting CloudWatch only kms:Decrypt": DocsProgram(
        stack(queues(), s3_to_queue(), workers()).replace(
            '"Action": ["kms:Decrypt", "kms:GenerateDataKey*"]', '"Action": "kms:Decrypt"', 1
        ),
        "blocks",
        "CloudWatch needs kms:GenerateDataKey* as well as kms:Decrypt to publish to an encrypted topic",
        SNS_KMS,
    ),
    # ===================== 2. destination constraints =====================
    "FIFO queue redriving (queue argument) to a standard dead-letter queue": DocsProgram(
        stack(
            queues(),
            s3_to_queue(),
            workers(),
            """
retry_dlq = aws.sqs.Queue("retry-dlq", name="acme-retry-dlq", message_retention_seconds=1209600,
    sqs_managed_sse_enabled=True)
retry = aws.sqs.Queue("retry", name="acme-retry.fifo", fifo_queue=True, visibility_timeout_seconds=900,
    message_retention_seconds=345600, sqs_managed_sse_enabled=True,
    redrive_policy=retry_dlq.arn.apply(lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})))
""",
        ),
        "blocks",
        "the queue type must match: a FIFO queue can only use a FIFO dead-letter queue",
        SQS_DLQ_TYPE,
    ),
    "S3 -> SNS FIFO topic -> SQS FIFO queue": DocsProgram(
        stack(
            queues(queue_name="acme-jobs.fifo")
            .replace("receive_wait_time_seconds=20,", "receive_wait_time_seconds=20, fifo_queue=True,")
            .replace('name="acme-jobs-dlq",', 'name="acme-jobs-dlq.fifo", fifo_queue=True,'),
            sns_fan_out().replace('name="acme-uploads")', 'name="acme-uploads.fifo", fifo_topic=True)'),
            workers(),
        ),
        "blocks",
        "only standard SNS topics can be S3 event notification destinations; S3 refuses a FIFO topic",
        S3_DESTINATIONS,
    ),
    # ===================== 3. message lifecycle arithmetic =====================
    "redrive argument, retention exactly maxReceiveCount x visibility": DocsProgram(
        stack(
            redrive_argument(visibility=600, retention=3000, max_receive=5),
            s3_to_queue(),
            workers(processing=300),
        ),
        "blocks",
        "the 5th visibility window ends no earlier than 5 x 600 s = 3000 s after enqueue, exactly when the "
        "message expires: it is deleted before a 6th receive could move it to the DLQ",
        SQS_DLQ,
    ),
    "redrive argument, dead-letter retention exactly the source's retention": DocsProgram(
        stack(
            redrive_argument(visibility=600, retention=345600, max_receive=5, dlq_retention=345600),
            s3_to_queue(),
            workers(processing=300),
        ),
        "warns",
        "expiry keeps the original enqueue time; AWS asks for a DLQ retention longer than the source's",
        SQS_DLQ_RETENTION,
    ),
    "delivery delay pushes the last receive past retention": DocsProgram(
        stack(
            redrive_argument(visibility=600, retention=3030, max_receive=5).replace(
                "receive_wait_time_seconds=20,", "receive_wait_time_seconds=20, delay_seconds=60,"
            ),
            s3_to_queue(),
            workers(processing=300),
        ),
        "blocks",
        "a delayed message is invisible for 60 s first: 60 + 5 x 600 s = 3060 s > 3030 s retention",
        SQS_DLQ,
    ),
    # ===================== 4. recursion through any path =====================
    'S3 -> SNS -> SQS filtered on prefix "in", index written under index/': DocsProgram(
        stack(queues(), sns_fan_out(prefix="in"), workers(index_prefix="index/")),
        "blocks",
        'index/... starts with "in", so every index write is published to the topic and queued again',
        S3_RECURSION,
    ),
    "EventBridge key filter [prefix incoming/, suffix .json] (array values are ORed)": DocsProgram(
        stack(
            queues(),
            eventbridge_key(', "object": {"key": [{"prefix": "incoming/"}, {"suffix": ".json"}]}'),
            workers(index_prefix="index/"),
        ),
        "blocks",
        "values in a pattern array are alternatives: any .json key matches, the index's own objects included",
        EB_PATTERN_ARRAYS,
    ),
    # ===================== 5. a consumer that can exist =====================
    "fleet at max 0, the Lambda mapping reads the dead-letter queue only": DocsProgram(
        stack(
            queues(visibility=360),
            s3_to_queue(),
            workers(processing=300, size=(0, 0, 0)),
            lambda_consumer(60).replace("event_source_arn=queue.arn", "event_source_arn=dlq.arn"),
        ),
        "blocks",
        "no instance can run and the only mapping polls the DLQ: nothing consumes the work queue",
        ASG_CAPACITY,
    ),
    "fleet at max 0, the Lambda mapping reads another queue": DocsProgram(
        stack(
            queues(visibility=360),
            s3_to_queue(),
            workers(processing=300, size=(0, 0, 0)),
            """
thumbs = aws.sqs.Queue("thumbs", name="acme-thumbs", visibility_timeout_seconds=360, receive_wait_time_seconds=20,
    sqs_managed_sse_enabled=True, redrive_policy=dlq.arn.apply(lambda arn: json.dumps({
        "deadLetterTargetArn": arn, "maxReceiveCount": 5})))
""",
            lambda_consumer(60).replace("event_source_arn=queue.arn", "event_source_arn=thumbs.arn"),
        ),
        "blocks",
        "the Lambda is invoked only for acme-thumbs; no instance can run, so nothing consumes acme-jobs",
        ASG_CAPACITY,
    ),
    "fleet at max 0, Lambda consumer on the queue fed by EventBridge": DocsProgram(
        stack(
            queues(visibility=360),
            eventbridge_key(', "object": {"key": [{"prefix": "incoming/"}]}'),
            workers(processing=300, size=(0, 0, 0)),
            lambda_consumer(60),
        ),
        "passes",
        "the enabled mapping consumes the queue; the parked fleet is not needed",
        LAMBDA_ESM,
    ),
}
