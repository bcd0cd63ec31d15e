"""Jobs that can be stopped, with real `python -m worker` processes on moto server: a hung call is
killed at its deadline and its message released only once the call is gone; the slot stays taken
meanwhile; no key is ever processed by two calls at once; a GIL-holding processor does not starve
the heartbeat; a processing process killed from outside costs one attempt, with its reason."""

from __future__ import annotations

import json
import time

import pytest

from sandbox.local_aws import queue_depth, wait_until
from tests.worker.processors import calls, completions, overlaps, running_pids
from tests.worker.workers import start_worker, stop_worker

pytestmark = pytest.mark.slow


def upload(s3, pipeline, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")


def dead_letters(sqs, dlq_url: str) -> dict[str, dict[str, str]]:
    """key -> message attributes, for every message in the DLQ."""
    found: dict[str, dict[str, str]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            from worker.events import parse_body

            for event in parse_body(message["Body"]).events:
                found[event.key] = {
                    k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()
                }
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])


def test_hung_jobs_are_stopped_one_call_at_a_time_and_dead_lettered_with_the_reason(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=3, max_receive_count=2)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    hung = [f"uploads/hang-止まる {n}.txt" for n in range(4)]
    fine = [f"uploads/ok-普通 {n}.txt" for n in range(4)]
    upload(s3, pipeline, hung + fine)
    worker = start_worker(
        pipeline, aws_endpoint, marker_dir, processing_timeout_seconds=1.5, WORKER_CONCURRENCY="2"
    )
    most_running = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            most_running = max(most_running, len(running_pids(marker_dir)))
            if queue_depth(sqs, pipeline.dlq_url)[0] == len(hung) and queue_depth(
                sqs, pipeline.queue_url
            ) == (0, 0):
                break
            time.sleep(0.05)
        else:
            state = (queue_depth(sqs, pipeline.dlq_url), queue_depth(sqs, pipeline.queue_url))
            text = stop_worker(worker)
            raise TimeoutError(f"hung files did not reach the DLQ: {state}\n{text}")
    finally:
        output = stop_worker(worker)
    assert worker.returncode == 0, output
    assert (
        1 <= most_running <= 2
    )  # never more calls than slots: a stopped call leaves its slot only when gone
    assert overlaps(marker_dir) == []  # never two calls for one key at once
    assert running_pids(marker_dir) == []  # every hung call's process is gone
    assert [len(calls(marker_dir, key)) for key in hung] == [2] * len(hung)  # maxReceiveCount, no more
    assert all(completions(marker_dir, key) == 1 for key in fine)
    letters = dead_letters(sqs, pipeline.dlq_url)
    assert sorted(letters) == sorted(hung)
    for attributes in letters.values():
        assert attributes["ErrorType"] == "ProcessingTimedOut"
        assert "last receive (2 of maxReceiveCount 2)" in attributes["Reason"]


def test_a_gil_holding_processor_does_not_starve_the_heartbeat(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=2, max_receive_count=3)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    key = "uploads/gil-握ったまま.txt"
    upload(s3, pipeline, [key])
    worker = start_worker(
        pipeline, aws_endpoint, marker_dir, SLOW_SECONDS="6", HEARTBEAT_SECONDS="0.5", WORKER_CONCURRENCY="1"
    )
    try:
        wait_until(lambda: completions(marker_dir, key) == 1, 40, message="the GIL-holding call")
        wait_until(lambda: queue_depth(sqs, pipeline.queue_url) == (0, 0), 10, message="the delete")
    finally:
        output = stop_worker(worker)
    assert len(calls(marker_dir, key)) == 1, output  # 3x the visibility timeout, never redelivered
    assert overlaps(marker_dir) == []


def test_a_killed_processing_process_costs_one_attempt_and_says_why(
    aws, aws_endpoint, pipeline_factory, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=5, max_receive_count=2)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    crash, fine = "uploads/crash-落ちる.txt", "uploads/ok-後続.txt"
    upload(s3, pipeline, [crash, fine])
    worker = start_worker(pipeline, aws_endpoint, marker_dir, WORKER_CONCURRENCY="1")
    try:
        wait_until(
            lambda: queue_depth(sqs, pipeline.dlq_url)[0] == 1, 40, message="the crashing file in the DLQ"
        )
        wait_until(lambda: completions(marker_dir, fine) == 1, 20, message="the next file, in a new process")
    finally:
        output = stop_worker(worker)
    assert worker.returncode == 0, output
    assert len(calls(marker_dir, crash)) == 2
    attributes = dead_letters(sqs, pipeline.dlq_url)[crash]
    assert attributes["ErrorType"] == "ProcessorCrashed"
    assert "killed by SIGKILL" in attributes["Reason"]


def test_sigkill_of_the_worker_leaves_no_call_running(aws, aws_endpoint, pipeline_factory, marker_dir):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=30)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    upload(s3, pipeline, ["uploads/hang-孤児.txt"])
    worker = start_worker(pipeline, aws_endpoint, marker_dir, processing_timeout_seconds=600)
    try:
        pids = wait_until(lambda: running_pids(marker_dir), 30, message="the call to start")
        worker.kill()
        worker.wait(10)
        wait_until(
            lambda: not running_pids(marker_dir), 10, message="the orphaned call to die with the worker"
        )
    finally:
        worker.kill()
        worker.communicate()
    assert pids and json.dumps(pids)


def stops(caplog) -> int:
    return sum(1 for r in caplog.records if "visibility was lost" in r.getMessage())


def test_a_job_whose_visibility_cannot_be_extended_is_stopped_before_sqs_hands_it_out_again(
    aws, pipeline_factory, marker_dir, monkeypatch, caplog
):
    from tests.local_aws import running_consumer, worker_config

    s3, sqs, _ = aws
    pipeline = pipeline_factory(visibility_timeout=2, max_receive_count=5)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    monkeypatch.setenv("SLOW_SECONDS", "6")
    key = "uploads/slow-見失う.txt"

    def every_extension_fails(parsed, **_):
        parsed["Failed"] = [
            {"Id": entry["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid", "Message": "injected"}
            for entry in parsed.pop("Successful", [])
        ]

    sqs.meta.events.register("after-call.sqs.ChangeMessageVisibilityBatch", every_extension_fails)
    config = worker_config(pipeline, processing_timeout_seconds=20, heartbeat_seconds=0.3, concurrency=1)
    try:
        with running_consumer(aws, config, "tests.worker.processors:by_key_prefix"):
            upload(s3, pipeline, [key])
            wait_until(lambda: calls(marker_dir, key), 20, message="the first call")
            # a refused extension is noticed at once, maybe before a call got going: wait for a stop
            # after a call has begun (while extensions fail, every delivery is stopped)
            stops_before = stops(caplog)
            wait_until(lambda: stops(caplog) > stops_before, 20, message="a running call to be stopped")
            assert completions(marker_dir, key) == 0  # stopped, not left to run beside a redelivery
            sqs.meta.events.unregister("after-call.sqs.ChangeMessageVisibilityBatch", every_extension_fails)
            wait_until(lambda: completions(marker_dir, key) == 1, 40, message="the redelivered message")
    finally:
        sqs.meta.events.unregister("after-call.sqs.ChangeMessageVisibilityBatch", every_extension_fails)
    assert overlaps(marker_dir) == []
    assert len(calls(marker_dir, key)) >= 2
