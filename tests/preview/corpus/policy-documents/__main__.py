"""Structured policy documents, as pulumi-aws's own example (PolicyDocumentArgs) and other teams write them."""

import pulumi
import pulumi_aws as aws
from pulumi_aws import iam

caller = aws.get_caller_identity()

role = iam.Role(
    "role",
    assume_role_policy=iam.PolicyDocumentArgs(
        version=iam.PolicyDocumentVersion.POLICY_DOCUMENT_VERSION_2012_10_17,
        statement=[
            iam.PolicyStatementArgs(
                effect=iam.PolicyStatementEffect.ALLOW,
                action="sts:AssumeRole",
                principal=iam.ServicePrincipalArgs(service="lambda.amazonaws.com"),
            )
        ],
    ),
)

uploads = aws.s3.Bucket("uploads")
aws.s3.BucketPublicAccessBlock(
    "uploads",
    bucket=uploads.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)
aws.s3.BucketPolicy(
    "uploads-tls-only",
    bucket=uploads.id,
    policy={
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [uploads.arn, uploads.arn.apply(lambda arn: f"{arn}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    },
)

key = aws.kms.Key(
    "events",
    enable_key_rotation=True,
    policy={
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{caller.account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    },
)
topic = aws.sns.Topic("events", kms_master_key_id=key.id)
aws.sns.TopicPolicy(
    "events",
    arn=topic.arn,
    policy={
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic.arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": uploads.arn},
                    "StringEquals": {"aws:SourceAccount": caller.account_id},
                },
            }
        ],
    },
)

reader = iam.Policy(
    "reader",
    policy={
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": uploads.arn.apply(lambda a: f"{a}/*")}
        ],
    },
)
iam.RolePolicy(
    "inline",
    role=role.id,
    policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": uploads.arn}],
    },
)

pulumi.export("assumeRolePolicy", role.assume_role_policy)
pulumi.export("readerPolicy", reader.policy)
pulumi.export("keyPolicyVersion", key.policy.apply(lambda text: text[:30]))
