"""A message of several records says which records failed, each with its own reason, in its dead
letter (within SQS's attribute limits) and in its log line; and the log line says what was done."""

from __future__ import annotations

import json

from sandbox.local_aws import queue_depth, wait_until
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import by_key_prefix
from worker import metrics
from worker.handler_core import decide
from worker.outcomes import (
    FAILED_RECORD_DETAILS_MAX_BYTES,
    Outcome,
    RecordFailure,
    Verdict,
    dead_letter_attributes,
    failed_record_details,
)

KEYS = ["uploads/ok-一.txt", "uploads/perm-二.pdf", "uploads/ok-三.txt", "uploads/perm-四.pdf"]


def s3_body(keys: list[str]) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "uploads"}, "object": {"key": key, "size": 1, "eTag": "e"}},
                }
                for key in keys
            ]
        }
    )


def fail_by_name(event) -> Verdict:
    """perm- keys fail, each with a reason of its own."""
    if "perm-" in event.key:
        return Verdict(
            Outcome.PERMANENT_FAILURE, reason=f"cannot read {event.key}", error_type="PermanentError"
        )
    return Verdict(Outcome.PROCESSED)


def test_each_failed_record_is_named_with_its_position_key_and_own_reason():
    verdict, _ = decide(s3_body(KEYS), fail_by_name)
    assert verdict.outcome is Outcome.PERMANENT_FAILURE
    assert [(f.position, f.key, f.reason) for f in verdict.failures] == [
        (1, KEYS[1], f"cannot read {KEYS[1]}"),
        (3, KEYS[3], f"cannot read {KEYS[3]}"),
    ]
    assert verdict.reason.startswith("2 of 4 records failed: ")
    assert f"Records[1] {KEYS[1]}: PermanentError: cannot read {KEYS[1]}" in verdict.reason
    assert f"Records[3] {KEYS[3]}: PermanentError: cannot read {KEYS[3]}" in verdict.reason
    attributes = dead_letter_attributes(verdict, "id-1", 1, "work")
    details = json.loads(attributes["FailedRecordDetails"]["StringValue"])
    assert [(d["record"], d["key"], d["reason"]) for d in details] == [
        (1, KEYS[1], f"cannot read {KEYS[1]}"),
        (3, KEYS[3], f"cannot read {KEYS[3]}"),
    ]
    assert len(attributes) <= 10  # SQS: at most 10 message attributes


def test_a_record_that_is_not_an_s3_event_is_named_by_its_position():
    body = json.loads(s3_body(KEYS[:1]))
    body["Records"].insert(0, {"eventSource": "aws:kinesis"})
    verdict, _ = decide(json.dumps(body), fail_by_name)
    assert [(f.position, f.key, f.error_type) for f in verdict.failures] == [(0, "", "NotAnS3Event")]
    assert verdict.reason.startswith("1 of 2 records failed: Records[0]: NotAnS3Event")


def test_the_details_stay_within_their_budget_and_count_what_did_not_fit():
    failures = tuple(
        RecordFailure(n, f"uploads/{'長い名前' * 40}-{n}.pdf", "E", "x" * 900) for n in range(200)
    )
    text = failed_record_details(failures)
    assert len(text.encode()) <= FAILED_RECORD_DETAILS_MAX_BYTES
    entries = json.loads(text)
    assert entries[-1]["more"] == 200 - (len(entries) - 1)
    assert [entry["record"] for entry in entries[:-1]] == list(range(len(entries) - 1))


def test_the_dead_letter_and_log_line_name_each_failed_record(aws, pipeline_factory, marker_dir, caplog):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=s3_body(KEYS))
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 30, message="the dead letter")
        wait_until(lambda: queue_depth(sqs, pipeline.queue_url) == (0, 0), 20, message="the queue to drain")
    (letter,) = sqs.receive_message(
        QueueUrl=pipeline.dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    details = json.loads(letter["MessageAttributes"]["FailedRecordDetails"]["StringValue"])
    assert [(d["record"], d["key"], d["error_type"]) for d in details] == [
        (1, KEYS[1], "PermanentError"),
        (3, KEYS[3], "PermanentError"),
    ]
    assert all(d["key"].rsplit("/", 1)[-1] in d["reason"] for d in details)  # each its own reason
    (handled,) = [r for r in caplog.records if r.getMessage() == "message handled" and r.keys == KEYS]
    assert handled.action == "dead_letter"
    assert [(f["record"], f["key"]) for f in handled.failed_records] == [(1, KEYS[1]), (3, KEYS[3])]


def test_the_log_line_says_dead_letter_when_the_last_receive_dead_letters(
    aws, pipeline_factory, marker_dir, caplog
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory(max_receive_count=1)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    key = "uploads/always-最後.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
    with running_consumer(aws, worker_config(pipeline), by_key_prefix) as consumer:
        wait_until(lambda: consumer.metrics.totals[metrics.DEAD_LETTERED] == 1, 30, message="the dead letter")
    (handled,) = [r for r in caplog.records if r.getMessage() == "message handled" and r.keys == [key]]
    assert handled.outcome == "transient_failure"
    assert handled.action == "dead_letter"  # not "release": the message went to the DLQ
