"""The incident, replayed against moto server: duplicate notifications, slow files, poison files,
failing deletes, and the non-deleting consumer itself."""

from __future__ import annotations

import time

from sandbox.local_aws import queue_depth, wait_until
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import by_key_prefix, calls
from worker import metrics


def drained(sqs, pipeline) -> bool:
    return queue_depth(sqs, pipeline.queue_url) == (0, 0)


def test_duplicate_notifications_process_each_upload_once(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(notification_count=2)  # the incident's bucket
    keys = [f"uploads/ok-重複 {n}.txt" for n in range(5)]
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(
            lambda: (
                consumer.metrics.totals[metrics.PROCESSED] + consumer.metrics.totals[metrics.DUPLICATES] == 10
            ),
            30,
            message="both messages of every upload",
        )
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    assert [len(calls(marker_dir, key)) for key in keys] == [1] * 5
    assert consumer.metrics.totals[metrics.PROCESSED] == 5
    assert consumer.metrics.totals[metrics.DUPLICATES] == 5


def test_heartbeat_keeps_a_slow_file_invisible_past_the_visibility_timeout(
    aws, pipeline_factory, marker_dir, monkeypatch
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=2)
    monkeypatch.setenv("SLOW_SECONDS", "5")  # 2.5x the visibility timeout
    key = "uploads/slow-大きな 図面.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    config = worker_config(pipeline, processing_timeout_seconds=20, heartbeat_seconds=0.5, concurrency=2)
    with running_consumer(aws, config, by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.PROCESSED] == 1, 30, message="the slow file")
        wait_until(lambda: drained(sqs, pipeline), 20, message="the queue to drain")
    assert len(calls(marker_dir, key)) == 1  # never redelivered while it was being processed
    assert consumer.heartbeat.extensions >= 3


def test_always_failing_file_reaches_the_dlq_after_max_receive_count(aws, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(max_receive_count=3)
    key = "uploads/always-毒 ファイル.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix):
        wait_until(lambda: queue_depth(sqs, pipeline.dlq_url)[0] == 1, 30, message="SQS's redrive to the DLQ")
        time.sleep(1.5)  # a few more polls: nothing may come back
    assert len(calls(marker_dir, key)) == 3  # maxReceiveCount receives, and no more
    assert drained(sqs, pipeline)


def test_delete_failures_are_retried_then_counted(aws, pipeline_factory, marker_dir, caplog):
    s3, sqs, cloudwatch = aws
    pipeline = pipeline_factory()
    s3.put_object(Bucket=pipeline.upload_bucket, Key="uploads/ok-削除 失敗.txt", Body=b"x")
    attempts = []

    def fail_every_entry(parsed, **_):
        """Inject what SQS answers for an expired receipt handle: HTTP 200 with every entry Failed."""
        attempts.append(len(parsed.get("Successful", [])))
        parsed["Failed"] = [
            {"Id": entry["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": "injected"}
            for entry in parsed.pop("Successful", [])
        ]

    sqs.meta.events.register("after-call.sqs.DeleteMessageBatch", fail_every_entry)
    try:
        with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
            wait_until(
                lambda: consumer.metrics.totals[metrics.DELETE_FAILED] >= 1, 20, message="MessageDeleteFailed"
            )
    finally:
        sqs.meta.events.unregister("after-call.sqs.DeleteMessageBatch", fail_every_entry)
    assert len(attempts) >= 3  # the first try and its retries
    failures = [r for r in caplog.records if r.getMessage().startswith("delete failed after retries")]
    assert failures and failures[0].message_id and "ReceiptHandleIsInvalid" in failures[0].error
    namespace = f"Test/{pipeline.upload_bucket}"
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]}
    assert "MessageDeleteFailed" in names  # flushed to CloudWatch, where the alarm watches it


def receive_counts_of_a_consumer_that_never_deletes(
    sqs, queue_urls: list[str], receives: int
) -> list[list[int]]:
    """The incident's worker: receive, 'process', never delete (one consumer per queue, side by side)."""
    counts: list[list[int]] = [[] for _ in queue_urls]
    for _ in range(receives):
        for position, queue_url in enumerate(queue_urls):
            response = sqs.receive_message(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateReceiveCount"],
                WaitTimeSeconds=0,
                VisibilityTimeout=1,
            )
            counts[position] += [
                int(m["Attributes"]["ApproximateReceiveCount"]) for m in response.get("Messages", [])
            ]
        time.sleep(1.2)  # let the visibility timeout expire
    return counts


def test_the_bug_itself_loops_without_redrive_and_stops_with_it(aws, pipeline_factory):
    _, sqs, _ = aws
    looping = pipeline_factory(max_receive_count=None)
    fixed = pipeline_factory(max_receive_count=3)
    for pipeline in (looping, fixed):
        sqs.purge_queue(QueueUrl=pipeline.queue_url)  # drop the s3:TestEvent, keep the scenario minimal
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="a message nobody deletes")
    looping_counts, fixed_counts = receive_counts_of_a_consumer_that_never_deletes(
        sqs, [looping.queue_url, fixed.queue_url], 5
    )
    assert looping_counts == [1, 2, 3, 4, 5]  # climbing past maxReceiveCount: only possible without redrive
    assert fixed_counts == [1, 2, 3]  # the loop stops at maxReceiveCount...
    assert queue_depth(sqs, fixed.dlq_url)[0] == 1  # ...and the message waits in the DLQ
