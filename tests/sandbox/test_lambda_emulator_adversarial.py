"""The emulated event source mapping against inputs the handler's authors did not write: a record that
hangs past the function timeout after another record of its batch was already dead-lettered.

A function timeout fails the whole batch: every message of it comes back after the visibility timeout
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). What the handler did
before the timeout must not be done a second time: a dead letter copied twice would be triaged twice.
"""

from __future__ import annotations

import json

from sandbox.local_aws import wait_until
from tests.sandbox.test_lambda_emulator import mapping, settings
from tests.worker import processors
from tests.worker.lambda_events import dead_letters, s3_body


def test_a_timeout_after_a_dead_letter_does_not_dead_letter_it_twice(
    aws, pipeline_factory, marker_dir, tmp_path
):
    _, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=3, max_receive_count=5)
    sqs.receive_message(
        QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
    )  # TestEvent
    perm, hang = "uploads/perm-先に.pdf", "uploads/hang-後で.txt"
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=s3_body(perm, sequencer="01"))
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=s3_body(hang, sequencer="02"))
    esm = mapping(
        aws,
        pipeline,
        marker_dir,
        tmp_path,
        settings(batch_size=2, batching_window_seconds=2, function_timeout_seconds=2, maximum_concurrency=1),
    )
    with esm:
        wait_until(lambda: processors.calls(marker_dir, hang), 30, message="the hanging call")
        wait_until(lambda: esm.stats.timeouts >= 1, 15, message="the function timeout")
        wait_until(lambda: len(processors.calls(marker_dir, hang)) >= 2, 30, message="the batch to come back")
    assert processors.calls(marker_dir, perm), "the batch was not in the order sent; the case did not run"
    assert len(processors.calls(marker_dir, perm)) == 1  # deleted when dead-lettered, not handed out again
    assert len(dead_letters(sqs, pipeline.dlq_url)) == 1


def test_a_batch_back_after_a_timeout_is_not_indexed_twice(aws, pipeline_factory, marker_dir, tmp_path):
    """The file indexed before the timeout comes back with its batch; the index shows one write."""
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=3, max_receive_count=5)
    sqs.receive_message(
        QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
    )  # TestEvent
    done, hang = "uploads/先に索引.txt", "uploads/hang-索引.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=done, Body="本文".encode(), ContentType="text/plain")
    sqs.receive_message(
        QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=600
    )  # its event
    etag = s3.head_object(Bucket=pipeline.upload_bucket, Key=done)["ETag"].strip('"')
    sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=s3_body(done, bucket=pipeline.upload_bucket, sequencer="01").replace(
            '"eTag": "e"', f'"eTag": "{etag}"'
        ),
    )
    sqs.send_message(
        QueueUrl=pipeline.queue_url, MessageBody=s3_body(hang, bucket=pipeline.upload_bucket, sequencer="02")
    )
    esm = mapping(
        aws,
        pipeline,
        marker_dir,
        tmp_path,
        settings(batch_size=2, batching_window_seconds=2, function_timeout_seconds=3, maximum_concurrency=1),
        FILE_PROCESSOR="tests.worker.processors:index_or_hang",
        INDEX_BUCKET=pipeline.index_bucket,
        INDEX_PREFIX=pipeline.index_prefix,
    )
    from worker.indexer import Indexer

    document_key = Indexer(s3, pipeline.index_bucket, pipeline.index_prefix).document_key_for(
        pipeline.upload_bucket, done
    )
    with esm:
        wait_until(lambda: esm.stats.timeouts >= 1, 40, message="the function timeout")
        first = s3.get_object(Bucket=pipeline.index_bucket, Key=document_key)
        wait_until(lambda: len(processors.calls(marker_dir, done)) >= 2, 30, message="the batch to come back")
        wait_until(lambda: esm.stats.timeouts >= 2, 30, message="the second timeout")
    second = s3.get_object(Bucket=pipeline.index_bucket, Key=document_key)
    assert second["LastModified"] == first["LastModified"]  # skipped as indexed, not written again
    assert json.loads(second["Body"].read())["text"] == "本文"
