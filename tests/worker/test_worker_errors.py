"""Error classes and odd bodies against moto server, with the built-in indexer in the worker's
child processes: permanent S3 errors dead-letter at once with the code as the reason, records are
handled one by one, SNS and EventBridge shapes are understood, long keys get unique index keys that
fit S3's limit, and the last receive dead-letters with the last error."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from sandbox.local_aws import queue_depth, wait_until
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import by_key_prefix, calls, completions
from worker import metrics
from worker.indexer import Indexer

pytestmark = pytest.mark.slow

INDEXER = "worker.indexer:index_file"


def s3_record(bucket: str, key: str, sequencer: str = "01") -> dict:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": quote_plus(key, safe="/"), "size": 4, "sequencer": sequencer},
        },
    }


def dlq_letters(sqs, pipeline) -> list[dict]:
    letters = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=pipeline.dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return letters
        for message in messages:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            letters.append({"body": message["Body"], **attributes})
            sqs.delete_message(QueueUrl=pipeline.dlq_url, ReceiptHandle=message["ReceiptHandle"])


def document(s3, pipeline, bucket: str, key: str) -> dict:
    document_key = Indexer(s3, pipeline.index_bucket, "documents/").document_key_for(bucket, key)
    return json.loads(s3.get_object(Bucket=pipeline.index_bucket, Key=document_key)["Body"].read())


def test_upload_bucket_missing_or_denied_is_permanent_and_dead_lettered_at_once(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    denied_key = "uploads/見せない.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=denied_key, Body=b"text")
    s3.put_bucket_policy(
        Bucket=pipeline.upload_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{pipeline.upload_bucket}/uploads/見せない*",
                    }
                ],
            }
        ),
    )
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=json.dumps({"Records": [s3_record("no-such-bucket-x1", "a.txt")]}),
    )
    sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=json.dumps({"Records": [s3_record(pipeline.upload_bucket, denied_key)]}),
    )
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(
            lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 2, 30, message="both dead letters"
        )
    letters = {
        json.loads(letter["body"])["Records"][0]["s3"]["bucket"]["name"]: letter
        for letter in dlq_letters(sqs, pipeline)
    }
    assert {letter["ErrorType"] for letter in letters.values()} == {"PermanentError"}
    denied = letters[pipeline.upload_bucket]["Reason"]
    assert "403" in denied or "AccessDenied" in denied
    assert "NoSuchBucket" in letters["no-such-bucket-x1"]["Reason"]
    assert {letter["ReceiveCount"] for letter in letters.values()} == {"1"}  # at once, not after retries


def test_records_are_handled_one_by_one(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    good = ["uploads/一つ目.txt", "uploads/三つ目.txt"]
    for key in good:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body="本文".encode(), ContentType="text/plain")
    sqs.purge_queue(QueueUrl=pipeline.queue_url)  # only the message below
    body = {
        "Records": [
            s3_record(pipeline.upload_bucket, good[0], "01"),
            None,
            s3_record(pipeline.upload_bucket, good[1], "02"),
            {
                "eventSource": "aws:s3",
                "s3": {"bucket": {"name": pipeline.upload_bucket}, "object": {"key": 123}},
            },
        ]
    }
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=json.dumps(body))
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 30, message="the dead letter")
    for key in good:
        assert document(s3, pipeline, pipeline.upload_bucket, key)["text"] == "本文"  # good records indexed
    (letter,) = dlq_letters(sqs, pipeline)
    assert letter["ErrorType"] == "NotAnS3Event"
    assert letter["FailedRecords"] == "2"
    assert "record 1 " in letter["Reason"] and "record 3 " in letter["Reason"]
    assert queue_depth(sqs, pipeline.queue_url) == (0, 0)


def test_sns_wrapped_and_eventbridge_events_are_indexed(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    via_sns, via_eventbridge = "uploads/SNS 経由.txt", "uploads/EventBridge 経由.txt"
    for key in (via_sns, via_eventbridge):
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=key.encode(), ContentType="text/plain")
    sqs.purge_queue(QueueUrl=pipeline.queue_url)  # only the SNS and EventBridge shapes below
    sns = {
        "Type": "Notification",
        "MessageId": "0f0c2e5b-0000-0000-0000-000000000000",
        "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:uploads",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps({"Records": [s3_record(pipeline.upload_bucket, via_sns)]}),
    }
    eventbridge = {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "region": "ap-northeast-1",
        "resources": [f"arn:aws:s3:::{pipeline.upload_bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": pipeline.upload_bucket},
            "object": {
                "key": quote_plus(via_eventbridge, safe="/"),
                "size": 10,
                "etag": "abc",
                "sequencer": "07",
            },
            "reason": "PutObject",
        },
    }
    for body in (sns, eventbridge):
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=json.dumps(body))
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.PROCESSED] == 2, 30, message="both events")
    for key in (via_sns, via_eventbridge):
        assert document(s3, pipeline, pipeline.upload_bucket, key)["key"] == key
    assert dlq_letters(sqs, pipeline) == []


def test_long_upload_keys_get_unique_index_keys_within_the_limit(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    stem = "uploads/" + "長" * 320  # 968 bytes: with prefix, bucket and .json well past 1,024
    keys = [f"{stem}{suffix}.txt" for suffix in ("甲", "乙")]
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=key.encode(), ContentType="text/plain")
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.PROCESSED] == 2, 30, message="both long keys")
    stored = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=pipeline.index_bucket, Prefix="documents/")["Contents"]
    ]
    documents = [key for key in stored if key.endswith(".json")]
    assert len(documents) == 2 and all(len(key.encode()) <= 1024 for key in documents)
    assert sorted(document(s3, pipeline, pipeline.upload_bucket, key)["key"] for key in keys) == sorted(keys)


def test_the_last_receive_dead_letters_with_the_last_error(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(max_receive_count=2)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    key = "uploads/always-毎回 失敗.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 30, message="the dead letter")
    assert len(calls(marker_dir, key)) == 2 and completions(marker_dir, key) == 0
    (letter,) = dlq_letters(sqs, pipeline)
    assert letter["ErrorType"] == "RuntimeError"
    assert (
        letter["Reason"] == "last receive (2 of maxReceiveCount 2): transient failure of always-毎回 失敗.txt"
    )
    assert letter["ReceiveCount"] == "2"


def test_throttled_s3_is_transient_and_retried(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(max_receive_count=3)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    key = "uploads/throttled2-混雑.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: completions(marker_dir, key) == 1, 30, message="the third attempt")
    assert (
        consumer.metrics.totals[metrics.FAILED] == 2 and consumer.metrics.totals[metrics.DEAD_LETTERED] == 0
    )
