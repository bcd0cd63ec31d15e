"""The event half of the pipeline: upload bucket -> one notification -> work queue -> dead-letter queue.

Each part carries the incident's fix: exactly one notification, a visibility timeout that covers the
longest processing time, a redrive policy to a DLQ that keeps messages longer than its source, and a
queue policy that admits only this bucket of this account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.private_bucket import PrivateBucket, PrivateBucketArgs
from components.settings import PipelineSettings


def redrive_policy(dead_letter_queue_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dead_letter_queue_arn, "maxReceiveCount": max_receive_count})


def redrive_allow_policy(source_queue_arn: str) -> str:
    return json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [source_queue_arn]})


def s3_send_policy(queue_arn: str, bucket_arn: str, account_id: str) -> str:
    """Let S3 send events to the queue, but only for this bucket owned by this account."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowUploadBucketNotifications",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": bucket_arn},
                        "StringEquals": {"aws:SourceAccount": account_id},
                    },
                }
            ],
        }
    )


@dataclass
class FileEventPipelineArgs:
    settings: PipelineSettings
    """The stack's validated pipeline settings (components/settings.py), taken as they are: bucket and
    queue names, visibility, retention, maxReceiveCount, the upload prefix."""


class FileEventPipeline(pulumi.ComponentResource):
    """Upload bucket, index bucket, work queue, DLQ, queue policy and the single bucket notification."""

    upload_bucket: aws.s3.Bucket
    index_bucket: aws.s3.Bucket
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue
    notification: aws.s3.BucketNotification

    def __init__(
        self, name: str, args: FileEventPipelineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cis:pipeline:FileEventPipeline", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        self.upload_bucket = PrivateBucket(
            "uploads",
            PrivateBucketArgs(bucket_name=settings.upload_bucket_name, protect=settings.is_production),
            opts=child,
        ).bucket
        self.index_bucket = PrivateBucket(
            "index", PrivateBucketArgs(bucket_name=settings.index_bucket_name), opts=child
        ).bucket

        self.dead_letter_queue = aws.sqs.Queue(
            "dead-letter-queue",
            name=settings.dead_letter_queue_name,
            message_retention_seconds=settings.dead_letter_retention_seconds,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            "work-queue",
            name=settings.queue_name,
            visibility_timeout_seconds=settings.visibility_timeout_seconds,
            receive_wait_time_seconds=settings.receive_wait_time_seconds,
            message_retention_seconds=settings.queue_retention_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dead_letter_queue.arn.apply(
                lambda arn: redrive_policy(arn, settings.max_receive_count)
            ),
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            "dead-letter-queue-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(redrive_allow_policy),
            opts=child,
        )

        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        queue_policy = aws.sqs.QueuePolicy(
            "work-queue-policy",
            queue_url=self.queue.url,
            policy=pulumi.Output.all(
                queue_arn=self.queue.arn, bucket_arn=self.upload_bucket.arn, account_id=account_id
            ).apply(lambda values: s3_send_policy(**values)),
            opts=child,
        )
        # Exactly one notification resource owns the bucket's whole notification configuration: a
        # second one would overwrite it or, in the console, duplicate every event (the incident).
        self.notification = aws.s3.BucketNotification(
            "upload-notification",
            bucket=self.upload_bucket.id,
            queues=[
                aws.s3.BucketNotificationQueueArgs(
                    queue_arn=self.queue.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=settings.upload_prefix,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy]),
        )

        self.register_outputs(
            {
                "queueUrl": self.queue.url,
                "queueArn": self.queue.arn,
                "dlqUrl": self.dead_letter_queue.url,
                "dlqArn": self.dead_letter_queue.arn,
                "bucketName": self.upload_bucket.bucket,
                "indexBucketName": self.index_bucket.bucket,
            }
        )
