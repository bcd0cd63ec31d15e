"""The worker role's documents: who may assume it, and the least privilege one worker needs.

Every statement names its resource (queue, DLQ, bucket prefix, bundle object, the group); the one
exception is PutMetricData, which has no resource-level permissions and is narrowed by namespace.
"""

from __future__ import annotations

EC2_ASSUME_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def group_arn(region: str, account_id: str, group_name: str) -> str:
    """The Auto Scaling Group's ARN pattern (its id part is generated, so it is a wildcard)."""
    return f"arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/{group_name}"


def processing_statements(
    *,
    queue_arn: str,
    dlq_arn: str,
    upload_bucket: str,
    upload_prefix: str,
    index_bucket: str,
    index_prefix: str,
) -> list[dict]:
    """What processing files needs, in either compute mode (the EC2 worker's role and the function's):
    consume the work queue, dead-letter into its DLQ, read uploads, write index documents."""
    return [
        {
            "Sid": "ConsumeWorkQueue",
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            "Resource": queue_arn,
        },
        {
            # GetQueueAttributes: the start-up check that the redrive target exists (worker/startup.py).
            "Sid": "DeadLetterPermanentFailures",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
            "Resource": dlq_arn,
        },
        {
            "Sid": "ReadUploads",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{upload_bucket}/{upload_prefix}*",
        },
        # The worker deletes the message of an upload that is gone (NoSuchKey, 404) and retries a
        # denied read (403). S3 answers 404 for a missing key only "if you have the s3:ListBucket
        # permission on the bucket", else 403 (GetObject API reference,
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). A GetObject request
        # carries no s3:prefix (that key belongs to ListObjects' prefix parameter), and a condition on
        # a key absent from the request context is false (IAM condition operators,
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html),
        # so a ListBucket limited by an s3:prefix condition would never count here: the worker would get
        # 403 for every deleted upload. Hence ListBucket on the bucket, unconditioned. It reveals key
        # names, not contents; the worker may read every upload anyway.
        {
            "Sid": "TellMissingUploadsFromDenied",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{upload_bucket}",
        },
        {
            "Sid": "WriteIndexDocuments",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": f"arn:aws:s3:::{index_bucket}/{index_prefix}*",
        },
        {
            # The same reasoning as for the uploads: the indexer reads its own documents back.
            "Sid": "TellMissingIndexDocumentsFromDenied",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{index_bucket}",
        },
    ]


def worker_policy_document(
    *,
    queue_arn: str,
    dlq_arn: str,
    upload_bucket: str,
    upload_prefix: str,
    index_bucket: str,
    index_prefix: str,
    bundle_bucket: str,
    bundle_key: str,
    metric_namespace: str,
    group_arn: str,
) -> dict:
    """Least privilege for one worker."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            *processing_statements(
                queue_arn=queue_arn,
                dlq_arn=dlq_arn,
                upload_bucket=upload_bucket,
                upload_prefix=upload_prefix,
                index_bucket=index_bucket,
                index_prefix=index_prefix,
            ),
            {
                "Sid": "ReadWorkerBundle",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bundle_bucket}/{bundle_key}",
            },
            {
                # The bootstrap completes the launch hook (CONTINUE once the worker runs, ABANDON and
                # Unhealthy on failure); the drain watcher completes the termination hook.
                "Sid": "ReportOwnLifecycle",
                "Effect": "Allow",
                "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:SetInstanceHealth"],
                "Resource": group_arn,
            },
            {
                # PutMetricData has no resource-level permissions; the namespace condition narrows it.
                "Sid": "PublishWorkerMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": metric_namespace}},
            },
        ],
    }
