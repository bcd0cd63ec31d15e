"""Lambda + SQS consumers written the way other teams write them with pulumi_aws, each with the mandatory
policies AWS's documentation says it must fail (empty: it must pass), decided before running the pack.

Built around one pipeline (bucket -> queue -> DLQ, as in outside_programs.py) and varied in the consumer:
its execution role, the mapping's references and options, the function's timeout, a component of their own.
"""

from __future__ import annotations

from tests.policy.outside_programs import BUCKET, NOTIFY_QUEUE, S3_MAY_SEND, OutsideProgram

LAMBDA_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"
SQS_CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
SQS_ERRORS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
ESM_ON_FAILURE = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
    "aws-properties-lambda-eventsourcemapping-onfailure.html"
)
ESM_API = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
IAM_LOGIC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"


def queues(visibility: int | None = 180) -> str:
    setting = "" if visibility is None else f"visibility_timeout_seconds={visibility}, "
    return f"""
dlq = aws.sqs.Queue("jobs-dlq", message_retention_seconds=1209600, sqs_managed_sse_enabled=True)
queue = aws.sqs.Queue("jobs", name="jobs", {setting}message_retention_seconds=345600, receive_wait_time_seconds=20,
    sqs_managed_sse_enabled=True)
"""


REDRIVE = """
aws.sqs.RedrivePolicy("jobs", queue_url=queue.id, redrive_policy=dlq.arn.apply(
    lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})))
aws.cloudwatch.MetricAlarm("jobs-dlq-not-empty", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
    dimensions={"QueueName": dlq.name}, statistic="Maximum", period=300, evaluation_periods=1, threshold=0,
    comparison_operator="GreaterThanThreshold")
"""

ASSUME = """role = aws.iam.Role("processor", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
"""
MANAGED_SQS_ROLE = (
    ASSUME
    + """aws.iam.RolePolicyAttachment("processor-sqs", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
"""
)
BASIC_ROLE = (
    ASSUME
    + """aws.iam.RolePolicyAttachment("processor-logs", role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
"""
)
NO_DELETE_ROLE = (
    ASSUME
    + """aws.iam.RolePolicy("processor-sqs", role=role.id, policy=queue.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"],
    "Resource": arn}]})))
"""
)
CODE = 'code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(event, context):\\n    return None\\n")})'


def function(options: str = "timeout=30, ", name: str = "processor") -> str:
    return (
        f'\n{name} = aws.lambda_.Function("{name}", role=role.arn, runtime="python3.12", handler="index.handler", '
        f"{options}{CODE})\n"
    )


PARTIAL = 'function_response_types=["ReportBatchItemFailures"], '


def mapping(
    options: str = PARTIAL + "batch_size=10, ",
    source: str = "queue.arn",
    target: str = "processor.arn",
    name: str = "processor",
) -> str:
    return f'aws.lambda_.EventSourceMapping("{name}", event_source_arn={source}, function_name={target}, {options})\n'


def program(
    visibility: int | None = 180,
    role: str = MANAGED_SQS_ROLE,
    consumer: str | None = None,
    redrive: bool = True,
    extra: str = "",
) -> str:
    consumer = function() + mapping() if consumer is None else consumer
    return (
        BUCKET
        + queues(visibility)
        + (REDRIVE if redrive else "")
        + S3_MAY_SEND
        + NOTIFY_QUEUE
        + role
        + consumer
        + extra
    )


ON_FAILURE = (
    "destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs("
    "on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(destination_arn=dlq.arn)), "
)
OWN_COMPONENT = """
class Consumer(pulumi.ComponentResource):
    def __init__(self, name, queue, opts=None):
        super().__init__("acme:app:Consumer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-sqs", role=role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", opts=child)
        self.function = aws.lambda_.Function(f"{name}-fn", role=role.arn, runtime="python3.12",
            handler="index.handler", timeout=30, code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("x = 1\\n")}),
            opts=child)
        aws.lambda_.EventSourceMapping(f"{name}-esm", event_source_arn=queue.arn, function_name=self.function.name,
            opts=child)
        self.register_outputs({})


Consumer("processor", queue)
"""
SNS_TRIGGER = """
topic = aws.sns.Topic("events", kms_master_key_id="alias/aws/sns")
aws.lambda_.Permission("processor-sns", action="lambda:InvokeFunction", function=processor.name,
    principal="sns.amazonaws.com", source_arn=topic.arn)
aws.sns.TopicSubscription("processor", topic=topic.arn, protocol="lambda", endpoint=processor.arn)
"""
VISIBILITY = "visibility-covers-processing"
DLQ = "dead-letter-queue-required"

LAMBDA_PROGRAMS: dict[str, OutsideProgram] = {
    "mapping without ReportBatchItemFailures (whole batch retried; the DLQ still ends a poison file)": OutsideProgram(
        program(consumer=function() + mapping("batch_size=10, ")), frozenset(), SQS_ERRORS
    ),
    "function timeout 900 with queue visibility 900": OutsideProgram(
        program(900, consumer=function("timeout=900, ") + mapping()), frozenset({VISIBILITY}), LAMBDA_SQS
    ),
    "queue and function left to their defaults (30 s >= 6 x 3 s)": OutsideProgram(
        program(None, consumer=function("") + mapping()), frozenset(), LAMBDA_SQS
    ),
    "function timeout unset (3 s) with visibility 10 (< 18)": OutsideProgram(
        program(10, consumer=function("") + mapping()), frozenset({VISIBILITY}), LAMBDA_SQS
    ),
    "mapping names the queue by its ARN as a string, visibility 60 < 6 x 30": OutsideProgram(
        program(60, consumer=function() + mapping(source='"arn:aws:sqs:us-east-1:123456789012:jobs"')),
        frozenset({VISIBILITY}),
        LAMBDA_SQS,
    ),
    "mapping names the function by an alias ARN, visibility 60 < 6 x 30": OutsideProgram(
        program(
            60,
            consumer=function('name="acme-processor", timeout=30, ')
            + mapping(target='"arn:aws:lambda:us-east-1:123456789012:function:acme-processor:live"'),
        ),
        frozenset({VISIBILITY}),
        ESM_API,
    ),
    "AWS-managed AWSLambdaSQSQueueExecutionRole attached by role id": OutsideProgram(
        program(role=MANAGED_SQS_ROLE.replace("role=role.name", "role=role.id")), frozenset(), SQS_CONFIGURE
    ),
    "execution role's inline policy lacks sqs:DeleteMessage": OutsideProgram(
        program(role=NO_DELETE_ROLE), frozenset({"consumer-can-delete"}), SQS_CONFIGURE
    ),
    "on-failure destination on the mapping instead of a redrive policy": OutsideProgram(
        program(redrive=False, consumer=function() + mapping(PARTIAL + ON_FAILURE)),
        frozenset({DLQ}),
        ESM_ON_FAILURE,
    ),
    # No S3 notification here: S3 refuses a FIFO queue as a notification destination
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-s3-bucket-queueconfiguration.html).
    "FIFO queue and FIFO dead-letter queue consumed by a function": OutsideProgram(
        program(extra="")
        .replace(NOTIFY_QUEUE, "")
        .replace(
            'aws.sqs.Queue("jobs-dlq", ', 'aws.sqs.Queue("jobs-dlq", name="jobs-dlq.fifo", fifo_queue=True, '
        )
        .replace('name="jobs", ', 'name="jobs.fifo", fifo_queue=True, content_based_deduplication=True, ')
        .replace("arn:aws:sqs:us-east-1:123456789012:jobs", "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"),
        frozenset(),
        LAMBDA_SQS,
    ),
    "two mappings on one queue: the slower function needs 720 s, visibility 300": OutsideProgram(
        program(
            300,
            consumer=function()
            + mapping()
            + function("timeout=120, ", name="reindex")
            + mapping(target="reindex.arn", name="reindex"),
        ),
        frozenset({VISIBILITY}),
        LAMBDA_SQS,
    ),
    "function and mapping inside a component of their own, visibility 60": OutsideProgram(
        program(60, role="", consumer=OWN_COMPONENT), frozenset({VISIBILITY}), LAMBDA_SQS
    ),
    "batch size 100 with a 60 s batching window": OutsideProgram(
        program(
            consumer=function() + mapping(PARTIAL + "batch_size=100, maximum_batching_window_in_seconds=60, ")
        ),
        frozenset(),
        SQS_CONFIGURE,
    ),
    "function triggered by SNS through a Permission, not by SQS": OutsideProgram(
        program(role=BASIC_ROLE, consumer=function() + SNS_TRIGGER), frozenset(), LAMBDA_SQS
    ),
}

ASYNC_ON_FAILURE = """
aws.lambda_.FunctionEventInvokeConfig("processor", function_name=processor.name,
    destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
        on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq.arn)))
"""
LAMBDA_PROGRAMS["function's asynchronous on-failure destination instead of a redrive policy"] = (
    OutsideProgram(
        program(redrive=False, extra=ASYNC_ON_FAILURE),
        frozenset({DLQ}),
        "https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html",
    )
)

# A function triggered by SNS whose role also holds the AWS-managed SQS policy (Receive on *): whatever it
# receives itself, its invocation ends at its timeout, so the queue's visibility must cover that timeout.
LAMBDA_PROGRAMS[
    "SNS-triggered function whose role may receive from the queue, timeout 30, visibility 180"
] = OutsideProgram(program(consumer=function() + SNS_TRIGGER), frozenset(), LAMBDA_SQS)
LAMBDA_PROGRAMS[
    "SNS-triggered function whose role may receive from the queue, timeout 300, visibility 180"
] = OutsideProgram(
    program(consumer=function("timeout=300, ") + SNS_TRIGGER), frozenset({VISIBILITY}), LAMBDA_SQS
)

# Reserved concurrency 0 (AWS's emergency stop) under an enabled mapping: every batch is throttled and, after
# maxReceiveCount receives, dead-lettered unprocessed. Advisory (lambda-consumer-not-throttled), not blocking.
LAMBDA_PROGRAMS["function with reserved concurrency 0 under an enabled mapping"] = OutsideProgram(
    program(consumer=function("timeout=30, reserved_concurrent_executions=0, ") + mapping()),
    frozenset(),
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
)
LAMBDA_PROGRAMS["reserved concurrency 5 under a mapping of maximum concurrency 10"] = OutsideProgram(
    program(
        consumer=function("timeout=30, reserved_concurrent_executions=5, ")
        + mapping(
            PARTIAL
            + "scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=10), "
        )
    ),
    frozenset(),
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
)
