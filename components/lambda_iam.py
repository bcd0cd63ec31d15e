"""The function role's documents: who may assume it, and the least privilege one invocation needs.

The event source mapping polls with the function's role, so the role must receive, delete and read the
queue's attributes (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); the
handler dead-letters permanent failures itself and reads the DLQ from the queue's redrive policy. Every
statement names its resource; the statements that process files are the EC2 worker's
(components/worker_iam.py `processing_statements`): the mapping's polling needs the same queue actions
(receive, delete, GetQueueAttributes), and the handler changes a failed record's visibility.
No KMS statement: the queues use SQS-managed encryption (SSE-SQS) and the buckets SSE-S3, whose keys
AWS uses on the caller's behalf without a kms: permission; a queue or bucket moved to a customer
managed key needs kms:Decrypt / kms:GenerateDataKey on that key here.
No cloudwatch:PutMetricData: the handler's metrics are Embedded Metric Format lines in its own log.
"""

from __future__ import annotations

from components.worker_iam import processing_statements

LAMBDA_ASSUME_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def log_group_name(function_name: str) -> str:
    """Where Lambda writes a function's logs by default; declared by the stack, with a retention."""
    return f"/aws/lambda/{function_name}"


def log_group_arn(region: str, account_id: str, function_name: str) -> str:
    return f"arn:aws:logs:{region}:{account_id}:log-group:{log_group_name(function_name)}"


def function_policy_document(
    *,
    queue_arn: str,
    dlq_arn: str,
    upload_bucket: str,
    upload_prefix: str,
    index_bucket: str,
    index_prefix: str,
    log_group_arn: str,
) -> dict:
    """Least privilege for the function and its event source mapping."""
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
                # The group is declared by the stack (with its retention), so no logs:CreateLogGroup.
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ],
    }
