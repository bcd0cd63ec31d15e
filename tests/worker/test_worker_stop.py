"""An idle worker stops within a second or two of SIGTERM (it ends its long poll rather than waiting
for it), and it receives nothing before its job slots are ready (no message held idle)."""

from __future__ import annotations

import threading
import time

from sandbox.local_aws import wait_until
from tests.local_aws import worker_config
from tests.worker.workers import log_lines, start_worker, stop_worker
from worker.consumer import Consumer

STOP_SECONDS = 3.0
"""A second or two, with room for a loaded machine (the long poll is 20 s)."""


def test_an_idle_worker_stops_within_seconds_of_sigterm(aws, aws_endpoint, pipeline_factory, marker_dir):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    worker = start_worker(pipeline, aws_endpoint, marker_dir, RECEIVE_WAIT_SECONDS="20")
    try:
        # idle: its slots are ready, then a moment for the 20 s long poll to be under way
        wait_until(lambda: worker.poll() is not None or _ready(worker), 120, message="the slots")
        time.sleep(1.0)
        began = time.monotonic()
        output = stop_worker(worker, timeout=30)
        took = time.monotonic() - began
    finally:
        worker.kill()
    assert worker.returncode == 0, output
    assert took < STOP_SECONDS, f"stopped after {took:.1f} s\n{output}"
    assert any(line.get("message") == "stopped" for line in log_lines(output))


def _ready(worker) -> bool:
    return '"slots ready; receiving"' in worker.stdout.readline()


def test_the_first_receive_waits_for_every_slot(aws, pipeline_factory):
    s3, sqs, cloudwatch = aws
    pipeline = pipeline_factory()
    config = worker_config(pipeline, concurrency=3)
    consumer = Consumer(
        config, sqs=sqs, cloudwatch=cloudwatch, processor="tests.worker.processors:by_key_prefix", s3=s3
    )
    ready_at_receive: list[bool] = []
    sqs.meta.events.register(
        "before-call.sqs.ReceiveMessage", lambda **_: ready_at_receive.append(consumer.ready.is_set())
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: ready_at_receive, 60, message="the first receive")
    finally:
        consumer.stop()
        thread.join(60)
    assert ready_at_receive[0] is True
    assert all(slot.pid is None or slot.starts >= 1 for slot in consumer.slots)
