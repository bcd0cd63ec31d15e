"""Lambda code from ./build (made by `make build`, not committed) plus a config file from ./src."""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "worker",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
)
aws.lambda_.Function(
    "worker",
    runtime="python3.12",
    handler="worker.handler",
    role=role.arn,
    code=pulumi.AssetArchive(
        {
            "worker.py": pulumi.FileAsset("src/worker.py"),
            "vendor": pulumi.FileArchive("build/vendor"),
        }
    ),
)
