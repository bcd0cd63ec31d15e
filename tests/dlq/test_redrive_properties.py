"""Property: whatever is chosen, wherever the move is interrupted and however much of the work queue a
worker has consumed, every dead letter ends exactly once in the DLQ, the work queue or the index."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dlq import moving
from dlq import queues as queues_module
from dlq.queues import open_queues
from tests.dlq.seeding import archived_file, carried_ids, dead_letter, direct_body, drain
from tests.hypothesis_profiles import examples
from worker.events import parse_body
from worker.indexer import Indexer

pytestmark = pytest.mark.slow

ERROR_TYPES = ["PermanentError", "ProcessingTimedOut", None]  # None: SQS redrove it, no reason


class Crash(BaseException):
    """An interruption right after a copy is sent and recorded (not an Exception: nothing catches it)."""


# no shrinking: each example builds queues on moto server (seconds), and the examples are small already
@settings(
    max_examples=examples(10),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    letters=st.lists(
        st.tuples(st.sampled_from(ERROR_TYPES), st.sampled_from(["a/", "b/"])), min_size=1, max_size=10
    ),
    reason=st.sampled_from([None, "PermanentError", "none"]),
    prefix=st.sampled_from([None, "archive/a/"]),
    limit=st.sampled_from([None, 1, 3]),
    crash_after=st.integers(min_value=1, max_value=4),
    consumed=st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_every_dead_letter_ends_exactly_once_in_the_dlq_the_queue_or_the_index(
    aws, pipeline_factory, monkeypatch, letters, reason, prefix, limit, crash_after, consumed
):
    s3, sqs, _ = aws
    monkeypatch.setattr(queues_module, "RECEIVE_WAIT_SECONDS", 0)  # moto's short poll sees every message
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    keys: dict[str, str] = {}
    for number, (error_type, folder) in enumerate(letters):
        key = archived_file(s3, pipeline, f"{folder}{number}.txt", f"file {number}")
        keys[
            dead_letter(sqs, pipeline.dlq_url, direct_body(pipeline.upload_bucket, key), error_type, "r")
        ] = key

    sent = 0

    def interrupt(_):
        nonlocal sent
        sent += 1
        if sent == crash_after:
            raise Crash

    queues = open_queues(sqs, pipeline.dlq_url, pipeline.queue_url)
    with tempfile.TemporaryDirectory() as scratch:
        ledger_path = Path(scratch) / "ledger"
        monkeypatch.setattr(moving, "after_send", interrupt)
        try:
            moving.move_one_at_a_time(queues, moving.Ledger(ledger_path), reason, prefix, limit=limit)
        except Crash:
            pass
        monkeypatch.setattr(moving, "after_send", lambda _: None)
        moving.move_one_at_a_time(queues, moving.Ledger(ledger_path), reason, prefix, limit=limit)

    # a worker consumes part of the work queue: indexed and deleted; the rest stays queued
    indexer = Indexer(s3, pipeline.index_bucket, "documents/")
    queued, indexed = [], []
    for position, message in enumerate(drain(sqs, pipeline.queue_url, wait_seconds=0)):
        if consumed[position % len(consumed)]:
            for event in parse_body(message["Body"]).events:
                indexer.index(event)
            sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"])
            indexed.append(message)
        else:
            queued.append(message)

    in_dlq = {m["MessageId"] for m in drain(sqs, pipeline.dlq_url, wait_seconds=0)}
    in_queue, in_index = carried_ids(queued), carried_ids(indexed)
    listing = s3.list_objects_v2(Bucket=pipeline.index_bucket, Prefix="documents/").get("Contents", [])
    documents = {item["Key"] for item in listing}
    for message_id, key in keys.items():
        places = (message_id in in_dlq) + in_queue.count(message_id) + in_index.count(message_id)
        assert places == 1, f"{key} is in {places} places"
        indexed_here = f"documents/{pipeline.upload_bucket}/{key}.json" in documents
        assert indexed_here == (message_id in in_index), f"{key}: index and consumed copies disagree"
