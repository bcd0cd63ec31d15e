"""Log lines are JSON, always: library loggers, warnings, print, raw writes to stderr and the
output of tools a processor starts all come out as JSON objects, one a line (`python -m worker`
under the systemd-like environment, on moto server)."""

from __future__ import annotations

import json

from sandbox.local_aws import wait_until
from tests.worker.processors import calls
from tests.worker.workers import start_worker, stop_worker


def test_every_line_the_worker_and_its_jobs_write_is_json(aws, aws_endpoint, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    key = "uploads/うるさい.pdf"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    worker = start_worker(
        pipeline,
        aws_endpoint,
        marker_dir,
        FILE_PROCESSOR="tests.worker.processors:noisy",
        WORKER_CONCURRENCY="1",
    )
    try:
        wait_until(lambda: calls(marker_dir, key), 30, message="the noisy call")
        wait_until(
            lambda: (
                sqs.get_queue_attributes(
                    QueueUrl=pipeline.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
                )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
                == "0"
            ),
            20,
            message="the delete",
        )
    finally:
        output = stop_worker(worker)
    lines = output.splitlines()
    not_json = [line for line in lines if not _is_json_object(line)]
    assert not_json == [], output
    messages = [json.loads(line)["message"] for line in lines]
    for expected in (
        "invalid pdf header",
        "EOF marker not found",
        f"printed by the processor for {key}",
        "raw bytes on fd 2",
        "tool complains",
    ):
        assert any(expected in message for message in messages), (expected, output)


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
