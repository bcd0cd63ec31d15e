"""Helpers for the Lambda handler tests: SQS messages received from moto server, shaped as the event
an SQS event source mapping gives the function (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html),
and a context whose remaining time runs down like Lambda's."""

from __future__ import annotations

import json
import time
from typing import Any


def s3_body(key: str, bucket: str = "uploads-bucket", sequencer: str = "0A1") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": 10, "eTag": "e", "sequencer": sequencer},
                    },
                }
            ]
        }
    )


class Context:
    """`get_remaining_time_in_millis()` counts down from `seconds`, as the Lambda context's does."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(
    sqs: Any, queue_url: str, expected: int, visibility: int = 30, wait_seconds: int = 1
) -> list[dict[str, Any]]:
    """At least `expected` messages (or all there are after a few empty receives)."""
    messages: dict[str, dict[str, Any]] = {}
    empty = 0
    while len(messages) < expected and empty < 3:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        empty = empty + 1 if not batch else 0
        for message in batch:
            messages[message["MessageId"]] = message
    return list(messages.values())


def sqs_event(messages: list[dict[str, Any]], arn: str, receive_counts: dict[str, int] | None = None) -> dict:
    """The event source mapping's event for these received messages."""
    region = arn.split(":")[3]
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes", {}))
        if receive_counts and message["MessageId"] in receive_counts:
            attributes["ApproximateReceiveCount"] = str(receive_counts[message["MessageId"]])
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def failed_ids(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def dead_letters(sqs: Any, dlq_url: str) -> dict[str, dict[str, str]]:
    """OriginalMessageId -> the dead letter's attributes; the DLQ is emptied."""
    found: dict[str, dict[str, str]] = {}
    for message in receive_all(sqs, dlq_url, expected=10_000, wait_seconds=0):
        attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
        found[attributes.get("OriginalMessageId", message["MessageId"])] = attributes
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return found
