"""Start-up checks of `python -m worker` on moto server: each wrong setting is one JSON error line
and exit status 2, never a traceback; and the runtime stop when the worker's own index bucket goes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sandbox.local_aws import queue_depth, wait_until
from tests.paths import REPO_ROOT
from tests.worker.workers import log_lines, read_until, start_worker, stop_worker
from worker.__main__ import EXIT_UNAVAILABLE

pytestmark = pytest.mark.slow


def run_to_exit(pipeline, endpoint, marker_dir, **settings: str) -> tuple[int, str]:
    worker = start_worker(pipeline, endpoint, marker_dir, **settings)
    try:
        output, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()
    return worker.returncode, output


def assert_refused(returncode: int, output: str, *phrases: str) -> None:
    assert returncode == 2, output
    assert "Traceback" not in output
    last = json.loads(output.strip().splitlines()[-1])
    assert last["level"] == "error", last
    for phrase in phrases:
        assert phrase in last["message"], last["message"]


def test_a_queue_that_does_not_exist(aws, aws_endpoint, pipeline_factory, marker_dir):
    pipeline = pipeline_factory()
    missing = pipeline.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    assert_refused(*run_to_exit(pipeline, aws_endpoint, marker_dir, QUEUE_URL=missing), "does not exist")


def test_a_queue_without_redrive_policy_is_refused_unless_explicitly_allowed(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    pipeline = pipeline_factory(max_receive_count=None)
    assert_refused(
        *run_to_exit(pipeline, aws_endpoint, marker_dir, DLQ_URL=""),
        "no redrive policy",
        "ALLOW_NO_REDRIVE_POLICY",
    )
    worker = start_worker(pipeline, aws_endpoint, marker_dir, DLQ_URL="", ALLOW_NO_REDRIVE_POLICY="true")
    output = read_until(worker, "worker started") + stop_worker(worker)
    assert worker.returncode == 0, output
    warnings = [line for line in log_lines(output) if line["level"] == "warning"]
    assert any("RUNNING WITHOUT A DEAD-LETTER QUEUE" in line["message"] for line in warnings), output


def test_dlq_url_that_is_not_the_redrive_target_is_refused(aws, aws_endpoint, pipeline_factory, marker_dir):
    pipeline, other = pipeline_factory(), pipeline_factory()
    assert_refused(
        *run_to_exit(pipeline, aws_endpoint, marker_dir, DLQ_URL=other.dlq_url),
        "not the queue's redrive target",
    )


def test_dlq_url_may_be_left_out_and_the_redrive_target_is_used(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="not an event")
    worker = start_worker(pipeline, aws_endpoint, marker_dir, DLQ_URL="")
    try:
        wait_until(lambda: queue_depth(sqs, pipeline.dlq_url)[0] == 1, 30, message="the dead letter")
    finally:
        output = stop_worker(worker)
    assert worker.returncode == 0, output


def test_a_redrive_target_that_does_not_exist(aws, aws_endpoint, pipeline_factory, marker_dir):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.delete_queue(QueueUrl=pipeline.dlq_url)
    assert_refused(*run_to_exit(pipeline, aws_endpoint, marker_dir, DLQ_URL=""), "does not exist")


def test_an_index_bucket_that_does_not_exist(aws, aws_endpoint, pipeline_factory, marker_dir):
    pipeline = pipeline_factory()
    assert_refused(
        *run_to_exit(pipeline, aws_endpoint, marker_dir, INDEX_BUCKET=f"{pipeline.index_bucket}-gone"),
        "INDEX_BUCKET",
        "does not exist",
    )


def test_an_index_bucket_the_worker_may_not_write(aws, aws_endpoint, pipeline_factory, marker_dir):
    s3, _, _ = aws
    pipeline = pipeline_factory()
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{pipeline.index_bucket}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=pipeline.index_bucket, Policy=json.dumps(deny))
    assert_refused(*run_to_exit(pipeline, aws_endpoint, marker_dir), "may not write")


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({"HEARTBEAT_SECONDS": "3"}, "not shorter than the queue's visibility timeout (3 s)"),
        ({"PROCESSING_TIMEOUT_SECONDS": "43201"}, "PROCESSING_TIMEOUT_SECONDS='43201' is outside"),
        ({"FILE_PROCESSOR": "tests.worker.processors:no_such_function"}, "cannot be loaded"),
        ({"ALLOW_NO_REDRIVE_POLICY": "maybe"}, "expected true or false"),
    ],
    ids=["heartbeat-not-shorter-than-visibility", "timeout-over-12-hours", "processor-missing", "bad-flag"],
)
def test_settings_that_cannot_work(aws, aws_endpoint, pipeline_factory, marker_dir, settings, phrase):
    pipeline = pipeline_factory(visibility_timeout=3)
    assert_refused(*run_to_exit(pipeline, aws_endpoint, marker_dir, **settings), phrase)


def test_processing_longer_than_the_visibility_timeout_is_allowed_up_to_12_hours(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    pipeline = pipeline_factory(visibility_timeout=3)
    worker = start_worker(pipeline, aws_endpoint, marker_dir, processing_timeout_seconds=43200)
    output = read_until(worker, "worker started") + stop_worker(worker)
    assert worker.returncode == 0, output
    assert any(line["message"] == "worker started" for line in log_lines(output))


def test_no_endpoint_at_all_is_one_line_and_a_status_systemd_restarts(tmp_path):
    """Nothing answers on the endpoint: at boot that is as likely a network not up yet as a wrong
    setting, so exit 75 (restarted, up to the unit's start limit), never 2 (never restarted)."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "QUEUE_URL": "http://127.0.0.1:9/123456789012/q",
        "PROCESSING_TIMEOUT_SECONDS": "900",
        "METRIC_NAMESPACE": "CISFileSearch/Worker",
        "INDEX_BUCKET": "index",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_MAX_ATTEMPTS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "worker"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_UNAVAILABLE, output
    assert "Traceback" not in output
    last = json.loads(output.strip().splitlines()[-1])
    assert last["level"] == "error" and last["error"] == "ServiceUnavailable", last
    assert "QUEUE_URL" in last["message"] and "exits 75" in last["message"], last["message"]


def test_index_bucket_gone_while_running_stops_the_worker_and_hands_the_message_back(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=30, max_receive_count=3)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    worker = start_worker(pipeline, aws_endpoint, marker_dir, FILE_PROCESSOR="worker.indexer:index_file")
    try:
        wait_until(
            lambda: s3.list_objects_v2(Bucket=pipeline.index_bucket).get("KeyCount"), 30, message="start-up"
        )
        listing = s3.list_object_versions(Bucket=pipeline.index_bucket)  # the stack's buckets are versioned
        for item in listing.get("Versions", []) + listing.get("DeleteMarkers", []):
            s3.delete_object(Bucket=pipeline.index_bucket, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=pipeline.index_bucket)
        for n in range(3):
            s3.put_object(Bucket=pipeline.upload_bucket, Key=f"uploads/索引なし {n}.txt", Body=b"text")
        output, _ = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 3, output
    assert "Traceback" not in output
    assert json.loads(output.strip().splitlines()[-1])["message"].startswith("stopped on a fatal error")
    assert queue_depth(sqs, pipeline.dlq_url)[0] == 0  # the queue was not dead-lettered
    visible, hidden = wait_until(lambda: queue_depth(sqs, pipeline.queue_url), 5)
    assert visible == 3 and hidden == 0  # every message handed back at once
