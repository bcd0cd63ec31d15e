"""Every message outcome (docs/worker.md, Outcomes), against moto server over HTTP, with Japanese file names."""

from __future__ import annotations

import json

from sandbox.local_aws import queue_depth, wait_until
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import by_key_prefix, calls
from worker import metrics

INDEXER = "worker.indexer:index_file"  # the built-in processor, as FILE_PROCESSOR names it
JAPANESE_NAME = "uploads/報告書 2024年 第3四半期.txt"
JAPANESE_TEXT = "第3四半期の売上報告。検索できること。"


def drained(sqs, pipeline) -> bool:
    return queue_depth(sqs, pipeline.queue_url) == (0, 0)


def dlq_messages(sqs, pipeline) -> list[dict]:
    response = sqs.receive_message(
        QueueUrl=pipeline.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )
    return response.get("Messages", [])


def test_processed_file_is_indexed_once_and_deleted(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    s3.put_object(
        Bucket=pipeline.upload_bucket,
        Key=JAPANESE_NAME,
        Body=JAPANESE_TEXT.encode(),
        ContentType="text/plain",
    )
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(
            lambda: consumer.metrics.totals[metrics.PROCESSED] == 1, 20, message="the file to be processed"
        )
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    document_key = f"documents/{pipeline.upload_bucket}/{JAPANESE_NAME}.json"
    document = json.loads(s3.get_object(Bucket=pipeline.index_bucket, Key=document_key)["Body"].read())
    assert document["key"] == JAPANESE_NAME  # decoded: spaces and Japanese, not '+' and %XX
    assert document["text"] == JAPANESE_TEXT
    assert document["extraction"] == "text"
    assert consumer.metrics.totals[metrics.TEST_EVENTS] >= 1  # s3:TestEvent deleted, not processed
    assert dlq_messages(sqs, pipeline) == []


def test_body_that_is_not_an_s3_event_goes_to_the_dlq_at_once(aws, pipeline_factory):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="hello, not an event")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 20, message="dead-lettering")
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    (message,) = dlq_messages(sqs, pipeline)
    assert message["Body"] == "hello, not an event"
    assert message["MessageAttributes"]["ErrorType"]["StringValue"] == "NotAnS3Event"
    assert "not JSON" in message["MessageAttributes"]["Reason"]["StringValue"]
    assert message["MessageAttributes"]["ReceiveCount"]["StringValue"] == "1"


def test_object_deleted_before_processing_is_deleted_with_a_warning(aws, pipeline_factory, caplog):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    key = "uploads/消えた ファイル.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"gone soon")
    s3.delete_object(Bucket=pipeline.upload_bucket, Key=key)
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.OBJECTS_GONE] == 1, 20, message="the gone object")
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    assert consumer.metrics.totals[metrics.FAILED] == 0
    assert dlq_messages(sqs, pipeline) == []
    assert any("object gone" in record.getMessage() for record in caplog.records)


def test_permanent_failure_goes_to_the_dlq_with_its_reason(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    key = "uploads/perm-壊れた 書類.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 20, message="dead-lettering")
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    assert len(calls(marker_dir, key)) == 1  # at once, not after retries
    (message,) = dlq_messages(sqs, pipeline)
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ErrorType"] == "PermanentError"
    assert attributes["Reason"] == "perm-壊れた 書類.txt can never be indexed"
    assert attributes["ReceiveCount"] == "1"
    assert attributes["OriginalMessageId"]
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"].startswith("uploads")


def test_corrupt_pdf_is_a_permanent_failure_and_unknown_types_get_metadata_only(aws, pipeline_factory):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    s3.put_object(
        Bucket=pipeline.upload_bucket,
        Key="uploads/壊れた.pdf",
        Body=b"%PDF-1.7 not really",
        ContentType="application/pdf",
    )
    s3.put_object(
        Bucket=pipeline.upload_bucket, Key="uploads/写真.jpg", Body=b"\xff\xd8\xff", ContentType="image/jpeg"
    )
    with running_consumer(aws, worker_config(pipeline), INDEXER) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 20, message="the corrupt PDF")
        wait_until(lambda: consumer.metrics.totals[metrics.PROCESSED] == 1, 20, message="the image")
    (message,) = dlq_messages(sqs, pipeline)
    assert "not a readable PDF" in message["MessageAttributes"]["Reason"]["StringValue"]
    image_doc = f"documents/{pipeline.upload_bucket}/uploads/写真.jpg.json"
    document = json.loads(s3.get_object(Bucket=pipeline.index_bucket, Key=image_doc)["Body"].read())
    assert document["extraction"] == "metadata-only" and document["text"] == ""


def test_transient_failure_is_released_retried_and_then_succeeds(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    key = "uploads/flaky2-一時的 エラー.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.PROCESSED] == 1, 30, message="the third attempt")
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    assert len(calls(marker_dir, key)) == 3
    assert consumer.metrics.totals[metrics.FAILED] == 2
    assert consumer.metrics.totals[metrics.RELEASED] == 2
    assert dlq_messages(sqs, pipeline) == []


def test_processing_timeout_releases_the_message_as_transient(aws, pipeline_factory, marker_dir, monkeypatch):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=30)
    monkeypatch.setenv("SLOW_SECONDS", "3")
    s3.put_object(Bucket=pipeline.upload_bucket, Key="uploads/slow-長い 処理.txt", Body=b"x")
    config = worker_config(
        pipeline, processing_timeout_seconds=1, heartbeat_seconds=0.2, retry_backoff_base_seconds=30
    )
    with running_consumer(aws, config, by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.FAILED] >= 1, 20, message="the timeout")
        assert consumer.metrics.totals[metrics.PROCESSED] == 0
        assert queue_depth(sqs, pipeline.queue_url) == (0, 1)  # released with backoff, not deleted
