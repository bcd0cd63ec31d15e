"""Dead letters shaped the way their writers write them: the worker (ErrorType/Reason attributes), SQS's
own redrive (no attributes), and the three S3 event envelopes (direct, SNS, EventBridge)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from sandbox.local_aws import LocalPipeline

ARCHIVE_PREFIX = "archive/"
"""Outside the pipeline's notification prefix: objects put here raise no event of their own."""


def s3_record(bucket: str, key: str, size: int = 5, etag: str = "0123abcd", sequencer: str = "01") -> dict:
    """One record as S3 writes it: the key URL-encoded (`+` for a space)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "ap-northeast-1",
        "eventTime": "2026-11-29T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key), "size": size, "eTag": etag, "sequencer": sequencer},
        },
    }


def direct_body(bucket: str, key: str, size: int = 5) -> str:
    return json.dumps({"Records": [s3_record(bucket, key, size)]})


def sns_body(bucket: str, key: str, size: int = 5) -> str:
    """S3 -> SNS -> SQS without raw delivery: the S3 event is a JSON string in `Message`."""
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "9a1b2c3d-0000-4000-8000-000000000000",
            "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:uploads",
            "Subject": "Amazon S3 Notification",
            "Message": json.dumps({"Records": [s3_record(bucket, key, size)]}),
            "Timestamp": "2026-11-29T10:00:01.000Z",
        }
    )


def eventbridge_body(bucket: str, key: str, size: int = 5) -> str:
    """EventBridge's "Object Created" event (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)."""
    return json.dumps(
        {
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-11-29T10:00:00Z",
            "region": "ap-northeast-1",
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {"key": key, "size": size, "etag": "0123abcd", "sequencer": "01"},
                "reason": "PutObject",
            },
        }
    )


def worker_attributes(error_type: str, reason: str, receive_count: int = 1) -> dict[str, Any]:
    """What the worker attaches when it dead-letters (worker/sqs_actions.py)."""
    values = {
        "ErrorType": error_type,
        "Reason": reason,
        "OriginalMessageId": "00000000-0000-4000-8000-000000000000",
        "ReceiveCount": str(receive_count),
        "SourceQueue": "file-processing-queue-production",
    }
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def dead_letter(sqs: Any, dlq_url: str, body: str, error_type: str | None = None, reason: str = "") -> str:
    """Send one dead letter; without `error_type` it looks like SQS's own redrive (no attributes)."""
    extra = {"MessageAttributes": worker_attributes(error_type, reason)} if error_type else {}
    return sqs.send_message(QueueUrl=dlq_url, MessageBody=body, **extra)["MessageId"]


def archived_file(s3: Any, pipeline: LocalPipeline, name: str, text: str = "hello") -> str:
    """A real, indexable text file outside the notification prefix; returns its key."""
    key = f"{ARCHIVE_PREFIX}{name}"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=text.encode(), ContentType="text/plain")
    return key


def drain(sqs: Any, url: str, visibility_seconds: int = 30, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """Receive every message of a queue (hidden for `visibility_seconds`, not deleted). moto answers a
    short poll (`wait_seconds=0`) with every visible message; AWS needs the long poll."""
    found: dict[str, dict[str, Any]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return list(found.values())
        for message in messages:
            found[message["MessageId"]] = message


def carried_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The DLQ message ids the redriven copies carry (one entry per copy: duplicates show as repeats)."""
    return [
        m["MessageAttributes"]["DlqMessageId"]["StringValue"]
        for m in messages
        if "DlqMessageId" in m.get("MessageAttributes", {})
    ]
