"""`python -m worker` as systemd runs it: SIGTERM during a batch, kill -9 during a batch, bad config."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from sandbox.local_aws import queue_depth, wait_until
from tests.paths import REPO_ROOT
from tests.worker.processors import calls, completions

pytestmark = pytest.mark.slow  # real worker processes on moto server

SLOW_SECONDS = 2


def start_worker(pipeline, endpoint: str, marker_dir, **extra: str) -> subprocess.Popen:
    environment = pipeline.worker_environment(
        endpoint,
        processing_timeout_seconds=30,
        FILE_PROCESSOR="tests.worker.processors:by_key_prefix",
        MARKER_DIR=str(marker_dir),
        SLOW_SECONDS=str(SLOW_SECONDS),
        WORKER_CONCURRENCY="4",
        RECEIVE_WAIT_SECONDS="1",
        METRIC_FLUSH_SECONDS="1",
        RETRY_BACKOFF_BASE_SECONDS="0",
        PYTHONPATH=str(REPO_ROOT),
        **extra,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def upload(s3, pipeline, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")


@pytest.mark.parametrize(
    "grace_seconds", [SLOW_SECONDS * 3, 0.2], ids=["in-flight-finish", "in-flight-released"]
)
def test_sigterm_during_a_batch_loses_nothing(aws, aws_endpoint, pipeline_factory, marker_dir, grace_seconds):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=60)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)  # only the uploads below, so every message is accounted for
    keys = [f"uploads/slow-停止 テスト {n}.txt" for n in range(8)]
    upload(s3, pipeline, keys)
    worker = start_worker(pipeline, aws_endpoint, marker_dir, SHUTDOWN_GRACE_SECONDS=str(grace_seconds))
    try:
        wait_until(
            lambda: sum(len(calls(marker_dir, key)) for key in keys) >= 4, 20, message="a batch in flight"
        )
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    processed = sum(completions(marker_dir, key) for key in keys)
    visible, in_flight = wait_until(lambda: queue_depth(sqs, pipeline.queue_url), 5)
    assert in_flight == 0  # nothing left hidden: finished ones deleted, unfinished ones handed back
    assert processed + visible == len(keys)  # each message processed-and-deleted, or visible again
    if grace_seconds > SLOW_SECONDS:
        assert processed == 4
    else:
        assert processed == 0 and visible == len(keys)
    assert '"message": "stopped"' in output


def test_kill_9_during_a_batch_the_messages_come_back_and_are_processed(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=3)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    keys = [f"uploads/slow-強制終了 {n}.txt" for n in range(4)]
    upload(s3, pipeline, keys)
    first = start_worker(pipeline, aws_endpoint, marker_dir)
    try:
        wait_until(lambda: all(calls(marker_dir, key) for key in keys), 20, message="all four in flight")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert sum(completions(marker_dir, key) for key in keys) == 0
    second = start_worker(pipeline, aws_endpoint, marker_dir)
    try:
        wait_until(lambda: all(completions(marker_dir, key) == 1 for key in keys), 40, message="reprocessing")
        wait_until(lambda: queue_depth(sqs, pipeline.queue_url) == (0, 0), 20, message="the queue to drain")
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    assert [len(calls(marker_dir, key)) for key in keys] == [2, 2, 2, 2]  # killed once, completed once


def test_missing_configuration_exits_2_naming_the_variable(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "QUEUE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["level"] == "error" and "QUEUE_URL is not set" in line["message"]
