"""Hypothesis: random uploads with random processor behaviour; at the end every message is
processed-and-deleted or in the DLQ, none is lost, and no file is tried more than maxReceiveCount times."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.local_aws import clients, create_pipeline, queue_depth, wait_until
from tests.hypothesis_profiles import examples
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import by_key_prefix, calls, completions

MAX_RECEIVE_COUNT = 3
behaviours = st.sampled_from(["ok", "perm", "always", "flaky1", "flaky2", "flaky3", "flaky5"])
names = st.text(alphabet="あいう abc漢字", min_size=1, max_size=6)
uploads = st.lists(st.tuples(behaviours, names), min_size=1, max_size=6, unique_by=lambda upload: upload[1])


@contextlib.contextmanager
def marker_environment(directory: str):
    saved = os.environ.get("MARKER_DIR")
    os.environ["MARKER_DIR"] = directory
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MARKER_DIR", None)
        else:
            os.environ["MARKER_DIR"] = saved


def expected_fate(behaviour: str) -> tuple[str, int]:
    """('processed' | 'dead-lettered', processor calls) under maxReceiveCount."""
    if behaviour == "ok":
        return "processed", 1
    if behaviour == "perm":
        return "dead-lettered", 1
    if behaviour == "always":
        return "dead-lettered", MAX_RECEIVE_COUNT
    failures = int(behaviour[len("flaky") :])
    if failures < MAX_RECEIVE_COUNT:
        return "processed", failures + 1
    return "dead-lettered", MAX_RECEIVE_COUNT


def dead_lettered_keys(sqs, dlq_url: str) -> list[str]:
    keys = []
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return keys
        for message in messages:
            record = json.loads(message["Body"])["Records"][0]
            keys.append(unquote_plus(record["s3"]["object"]["key"]))
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])


@settings(
    max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=uploads)
def test_every_message_is_processed_or_dead_lettered_never_lost(aws_endpoint, files):
    s3, sqs, cloudwatch = clients(aws_endpoint)
    pipeline = create_pipeline(
        s3,
        sqs,
        f"prop-{os.getpid()}-{abs(hash(tuple(files))) % 10**8}",
        visibility_timeout=30,
        max_receive_count=MAX_RECEIVE_COUNT,
    )
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    keys = {f"uploads/{behaviour}-{name}.txt": behaviour for behaviour, name in files}
    with tempfile.TemporaryDirectory() as markers, marker_environment(markers):
        for key in keys:
            s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
        expected = {key: expected_fate(behaviour) for key, behaviour in keys.items()}
        should_dead_letter = sorted(key for key, (fate, _) in expected.items() if fate == "dead-lettered")
        with running_consumer((s3, sqs, cloudwatch), worker_config(pipeline), by_key_prefix):
            wait_until(
                lambda: (
                    queue_depth(sqs, pipeline.queue_url) == (0, 0)
                    and queue_depth(sqs, pipeline.dlq_url)[0] == len(should_dead_letter)
                    and all(
                        completions(Path(markers), k) == 1
                        for k, (fate, _) in expected.items()
                        if fate == "processed"
                    )
                ),
                60,
                message="every message to reach its end",
            )
        for key, (fate, expected_calls) in expected.items():
            assert len(calls(Path(markers), key)) == expected_calls, key  # never above maxReceiveCount
            assert completions(Path(markers), key) == (1 if fate == "processed" else 0), key
    assert sorted(dead_lettered_keys(sqs, pipeline.dlq_url)) == should_dead_letter
    assert queue_depth(sqs, pipeline.queue_url) == (0, 0)
