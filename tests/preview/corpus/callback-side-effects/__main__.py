"""Shaped like published programs: boto3 calls in callbacks on outputs the provider computes."""

import json

import boto3
import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "thumbnailer-role",
    assume_role_policy={
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    },
)
aws.iam.RolePolicyAttachment(
    "thumbnailer-logs",
    role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)
function = aws.lambda_.Function(
    "thumbnailer",
    role=role.arn,
    runtime="python3.12",
    handler="index.handler",
    timeout=60,
    code=pulumi.AssetArchive(
        {"index.py": pulumi.StringAsset("def handler(event, context):\n    return {}\n")}
    ),
)


def register(arn: str) -> str:
    # Runs only once the function exists: `pulumi preview` does not know the ARN and skips it.
    boto3.client("ssm").put_parameter(
        Name="/thumbnailer/function-arn", Value=arn, Type="String", Overwrite=True
    )
    return arn


registered = function.arn.apply(register)

dead_letters = aws.sqs.Queue(
    "thumbnails-dlq", message_retention_seconds=1209600, sqs_managed_sse_enabled=True
)
jobs = aws.sqs.Queue(
    "thumbnails",
    visibility_timeout_seconds=360,
    sqs_managed_sse_enabled=True,
    redrive_policy=dead_letters.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    ),
)

pulumi.export("functionArn", registered)
pulumi.export("queueUrl", jobs.url)
