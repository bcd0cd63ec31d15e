"""The emulated event source mapping against inputs the handler's authors did not write: a record that
hangs past the function timeout after another record of its batch was already dead-lettered.

A function timeout fails the whole batch: every message of it comes back after the visibility timeout
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). What the handler did
before the timeout must not be done a second time: a dead letter copied twice would be triaged twice.
"""

from __future__ import annotations

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
