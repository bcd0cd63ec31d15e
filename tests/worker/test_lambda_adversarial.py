"""The Lambda handler fed inputs its authors did not write: every documented SQS event shape and S3
body shape, odd records, events that are not from SQS, short time, wrong settings. Each record must
end in exactly one place (deleted, listed in batchItemFailures, or dead-lettered with a reason).

SQS event: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
Partial batch responses: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
S3 event keys are URL-encoded: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from urllib.parse import quote_plus

import pytest
from botocore.exceptions import ClientError

from tests.worker import processors
from tests.worker.lambda_events import Context, dead_letters, failed_ids, queue_arn, s3_body
from worker import contract
from worker.lambda_handler import HandlerSettings, Runtime, handle_batch

SQS_ATTRIBUTES = {
    "ApproximateReceiveCount": "1",
    "SentTimestamp": "1545082649183",
    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
    "ApproximateFirstReceiveTimestamp": "1545082649185",
}


def record(arn: str, body: str, message_id: str | None = None, **attributes: str) -> dict:
    """One record as with-sqs.html's example event shows it (attributes are strings)."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {**SQS_ATTRIBUTES, **attributes},
        "messageAttributes": {"req-id": {"stringValue": "24479a02", "dataType": "String"}},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": arn.split(":")[3],
    }


def make_runtime(sqs, processor=processors.by_key_prefix, **settings):
    lines: list[dict] = []
    handler_settings = HandlerSettings(
        metric_namespace="Test/Adversarial", retry_backoff_base_seconds=0, **settings
    )
    return Runtime(handler_settings, sqs, processor, lambda line: lines.append(json.loads(line))), lines


@pytest.fixture
def pipeline(pipeline_factory):
    return pipeline_factory(visibility_timeout=30, max_receive_count=3)


def eventbridge_body(key: str) -> str:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html ("Object Created")."""
    return json.dumps(
        {
            "version": "0",
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {
                "bucket": {"name": "uploads-bucket"},
                "object": {"key": key, "size": 5, "etag": "e", "sequencer": "0B2"},
                "reason": "PutObject",
            },
        }
    )


def sns(body: str) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "m", "Message": body})


# body -> (expected place, key the processor must see or None)
BODIES = {
    "direct": (s3_body(quote_plus("uploads/ok-direct.txt")), "deleted", "uploads/ok-direct.txt"),
    "sns": (sns(s3_body("uploads/ok-sns.txt")), "deleted", "uploads/ok-sns.txt"),
    "sns-raw": (s3_body("uploads/ok-raw.txt"), "deleted", "uploads/ok-raw.txt"),
    "eventbridge": (eventbridge_body("uploads/ok-eb.txt"), "deleted", "uploads/ok-eb.txt"),
    "test-event": (json.dumps({"Event": "s3:TestEvent", "Bucket": "b"}), "deleted", None),
    "test-event-via-sns": (sns(json.dumps({"Event": "s3:TestEvent"})), "deleted", None),
    "not-json": ("<xml/>", "dead", None),
    "zero-records": (json.dumps({"Records": []}), "dead", None),
    "url-encoded": (
        s3_body("uploads/ok-" + quote_plus("議事録 第1回 (final).txt")),
        "deleted",
        "uploads/ok-議事録 第1回 (final).txt",
    ),
    "key-1024-bytes": (
        s3_body(quote_plus("uploads/ok-" + "あ" * 337 + "xx")),
        "deleted",
        "uploads/ok-" + "あ" * 337 + "xx",
    ),
    "object-removed": (
        s3_body("uploads/ok-removed.txt").replace("ObjectCreated:Put", "ObjectRemoved:Delete"),
        "deleted",
        "uploads/ok-removed.txt",
    ),
    "perm": (s3_body("uploads/perm-x.pdf"), "dead", "uploads/perm-x.pdf"),
    "transient": (s3_body("uploads/always-x.txt"), "listed", "uploads/always-x.txt"),
}


def test_the_1024_byte_key_is_1024_bytes():
    assert len(BODIES["key-1024-bytes"][2].encode()) == 1024


@pytest.mark.parametrize("name", sorted(BODIES))
def test_each_documented_body_shape_ends_in_exactly_one_place(aws, pipeline, marker_dir, name):
    """Every body shape in a documented SQS record (with-sqs.html): one place, the decoded key."""
    _, sqs, _ = aws
    body, place, key = BODIES[name]
    arn = queue_arn(sqs, pipeline.queue_url)
    rec = record(arn, body)
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [rec]}, Context(30), run)
    dead = dead_letters(sqs, pipeline.dlq_url)
    listed = failed_ids(response)
    actual = "dead" if rec["messageId"] in dead else "listed" if rec["messageId"] in listed else "deleted"
    assert actual == place
    assert not (rec["messageId"] in dead and rec["messageId"] in listed)
    if key is not None:
        assert len(processors.calls(marker_dir, key)) == 1
    if place == "dead":
        assert dead[rec["messageId"]]["Reason"]


def test_a_fifo_record_with_group_and_sequence_number_is_handled(aws, pipeline, marker_dir):
    """FIFO events carry MessageGroupId, SequenceNumber, MessageDeduplicationId (with-sqs.html)."""
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    rec = record(
        arn,
        s3_body("uploads/ok-fifo.txt"),
        MessageGroupId="1",
        SequenceNumber="18849496460467696128",
        MessageDeduplicationId="1",
    )
    run, _ = make_runtime(sqs)
    assert failed_ids(handle_batch({"Records": [rec]}, Context(30), run)) == []
    assert len(processors.calls(marker_dir, "uploads/ok-fifo.txt")) == 1


def test_an_event_of_many_shapes_lists_only_the_transient_one(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    records = [record(arn, body) for body, _, _ in BODIES.values()]
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": records}, Context(60), run)
    places = [place for _, place, _ in BODIES.values()]
    ids = [r["messageId"] for r in records]
    assert failed_ids(response) == [i for i, p in zip(ids, places, strict=True) if p == "listed"]
    dead = dead_letters(sqs, pipeline.dlq_url)
    assert set(dead) == {i for i, p in zip(ids, places, strict=True) if p == "dead"}


def test_a_record_without_approximate_receive_count_is_a_first_receive(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    rec = record(arn, s3_body("uploads/always-nocount.txt"))
    del rec["attributes"]["ApproximateReceiveCount"]
    odd = record(arn, s3_body("uploads/always-oddcount.txt"), ApproximateReceiveCount="n/a")
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [rec, odd]}, Context(30), run)
    assert failed_ids(response) == [rec["messageId"], odd["messageId"]]
    assert dead_letters(sqs, pipeline.dlq_url) == {}
    assert len(processors.calls(marker_dir, "uploads/always-oddcount.txt")) == 1  # processed, not skipped


def test_the_same_message_id_twice_in_a_batch_is_handled_once(aws, pipeline, marker_dir):
    """At-least-once delivery can hand the same message out twice; its id is its identity."""
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    first = record(arn, s3_body("uploads/perm-twice.pdf"), message_id="same-id")
    second = record(arn, s3_body("uploads/perm-twice.pdf"), message_id="same-id")
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [first, second]}, Context(30), run)
    assert failed_ids(response) == []
    dlq = sqs.receive_message(QueueUrl=pipeline.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    assert len(dlq.get("Messages", [])) == 1  # one dead letter, not two
    assert len(processors.calls(marker_dir, "uploads/perm-twice.pdf")) == 1


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"resource": "/", "httpMethod": "GET", "body": None, "requestContext": {}},
        {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]},
        {"Records": [{"eventSource": "aws:sns", "Sns": {"Message": "x"}}]},
    ],
    ids=["empty", "api-gateway", "s3-direct-to-lambda", "sns-direct-to-lambda"],
)
def test_an_event_that_is_not_from_sqs_fails_loudly(event):
    """No SQS message is at stake, so the invocation fails (Lambda's Errors metric and alarm see a
    misconfigured trigger) instead of returning a partial batch response nobody reads."""
    run = Runtime(HandlerSettings(), sqs=None, processor=processors.by_key_prefix, write_metrics=print)
    with pytest.raises(ValueError, match="not an SQS event"):
        handle_batch(event, Context(10), run)


def test_an_empty_records_list_is_still_a_success():
    run = Runtime(HandlerSettings(), sqs=None, processor=processors.by_key_prefix, write_metrics=print)
    assert handle_batch({"Records": []}, Context(10), run) == {"batchItemFailures": []}


def test_half_a_second_left_lists_the_records_not_started(aws, pipeline, marker_dir, monkeypatch):
    _, sqs, _ = aws
    monkeypatch.setenv("SLOW_SECONDS", "0.6")
    arn = queue_arn(sqs, pipeline.queue_url)
    slow, later = record(arn, s3_body("uploads/slow-half.txt")), record(arn, s3_body("uploads/ok-later.txt"))
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [slow, later]}, Context(0.5), run)
    assert later["messageId"] in failed_ids(response)
    assert processors.calls(marker_dir, "uploads/ok-later.txt") == []
    assert dead_letters(sqs, pipeline.dlq_url) == {}


def test_no_time_left_starts_nothing(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    records = [record(arn, s3_body(f"uploads/ok-none-{n}.txt")) for n in range(3)]
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": records}, Context(0), run)
    assert failed_ids(response) == [r["messageId"] for r in records]
    assert all(processors.calls(marker_dir, f"uploads/ok-none-{n}.txt") == [] for n in range(3))


# --- wrong settings ---------------------------------------------------------------------------------


def test_a_queue_without_redrive_lists_permanent_failures_never_drops_them(aws, pipeline_factory, marker_dir):
    _, sqs, _ = aws
    no_dlq = pipeline_factory(visibility_timeout=30, max_receive_count=None)
    arn = queue_arn(sqs, no_dlq.queue_url)
    perm, odd = record(arn, s3_body("uploads/perm-nodlq.pdf")), record(arn, "not json")
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [perm, odd]}, Context(30), run)
    assert failed_ids(response) == [perm["messageId"], odd["messageId"]]


def test_a_deleted_dlq_lists_the_record_instead(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    sqs.delete_queue(QueueUrl=pipeline.dlq_url)
    perm = record(arn, s3_body("uploads/perm-gone-dlq.pdf"))
    last = record(arn, s3_body("uploads/always-gone-dlq.txt"), ApproximateReceiveCount="3")
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [perm, last]}, Context(30), run)
    assert failed_ids(response) == [perm["messageId"], last["messageId"]]


def test_max_receive_count_env_disagreeing_uses_the_queue_and_says_so(aws, pipeline, marker_dir, caplog):
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    third = record(arn, s3_body("uploads/always-third.txt"), ApproximateReceiveCount="3")
    run, _ = make_runtime(sqs, declared_max_receive_count=10)
    with caplog.at_level(logging.ERROR, logger="worker.lambda"):
        response = handle_batch({"Records": [third]}, Context(30), run)
    assert failed_ids(response) == []
    assert (
        "last receive (3 of maxReceiveCount 3)"
        in dead_letters(sqs, pipeline.dlq_url)[third["messageId"]]["Reason"]
    )
    assert any("MAX_RECEIVE_COUNT disagrees" in r.message for r in caplog.records)


def test_max_receive_count_one_dead_letters_the_first_transient_failure(aws, pipeline_factory, marker_dir):
    """With maxReceiveCount 1 the first receive is the last: SQS would redrive it silently next."""
    _, sqs, _ = aws
    one = pipeline_factory(visibility_timeout=30, max_receive_count=1)
    arn = queue_arn(sqs, one.queue_url)
    rec = record(arn, s3_body("uploads/always-once.txt"))
    run, _ = make_runtime(sqs)
    assert failed_ids(handle_batch({"Records": [rec]}, Context(30), run)) == []
    assert dead_letters(sqs, one.dlq_url)[rec["messageId"]]["Reason"].startswith("last receive (1 of")


def test_index_bucket_missing_is_a_configuration_error_not_a_transient_failure():
    """The built-in indexer needs INDEX_BUCKET; without it every file would fail and, on its last
    receive, be dead-lettered: the EC2 worker refuses to start, the function must fail its init."""
    from worker.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="INDEX_BUCKET"):
        HandlerSettings.from_environ({contract.METRIC_NAMESPACE: "NS"})
    assert HandlerSettings.from_environ({contract.INDEX_BUCKET: "idx"}).file_processor
    custom = {contract.FILE_PROCESSOR: "tests.worker.processors:by_key_prefix"}
    assert HandlerSettings.from_environ(custom).file_processor.endswith("by_key_prefix")


def test_metric_namespace_missing_falls_back_to_the_contracts():
    settings = HandlerSettings.from_environ({contract.INDEX_BUCKET: "idx", contract.METRIC_NAMESPACE: ""})
    assert settings.metric_namespace == contract.DEFAULT_METRIC_NAMESPACE


def test_the_same_message_id_twice_failing_is_listed_once(aws, pipeline, marker_dir):
    """itemIdentifier names a message, not a record (services-sqs-errorhandling.html)."""
    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    twice = [record(arn, s3_body("uploads/always-twice.txt"), message_id="dup-id") for _ in range(2)]
    run, _ = make_runtime(sqs)
    assert failed_ids(handle_batch({"Records": twice}, Context(30), run)) == ["dup-id"]
    assert len(processors.calls(marker_dir, "uploads/always-twice.txt")) == 1


# --- metrics: the EMF lines the handler prints -------------------------------------------------------


def test_every_emf_line_of_a_mixed_batch_meets_the_specification(aws, pipeline, marker_dir):
    from tests.worker.emf_spec import emf_problems

    _, sqs, _ = aws
    arn = queue_arn(sqs, pipeline.queue_url)
    records = [record(arn, body) for body, _, _ in BODIES.values()]
    lines: list[str] = []
    run = Runtime(HandlerSettings(retry_backoff_base_seconds=0), sqs, processors.by_key_prefix, lines.append)
    handle_batch({"Records": records}, Context(60), run)
    dead_letters(sqs, pipeline.dlq_url)
    assert lines
    assert [emf_problems(line) for line in lines] == [[] for _ in lines]
    names = {m["Name"] for line in lines for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {contract.PROCESSED, contract.DEAD_LETTERED, contract.FAILED, contract.DURATION} <= names
    assert {json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"] for line in lines} == {
        contract.DEFAULT_METRIC_NAMESPACE
    }


def test_emf_lines_stay_within_the_specification_for_a_large_batch():
    """A batch of up to 10,000 records (with a batching window) gives more than 100 durations."""
    from tests.worker.emf_spec import emf_problems
    from worker import metrics

    lines: list[str] = []
    sink = metrics.EmbeddedMetrics("CISFileSearch/Worker", {contract.QUEUE_DIMENSION: "q"}, lines.append)
    for n in range(10_000):
        sink.duration(float(n % 977))
        sink.count(contract.PROCESSED)
    for name in (contract.FAILED, contract.DEAD_LETTERED, contract.RELEASED, contract.TEST_EVENTS):
        sink.count(name, 0 if name == contract.TEST_EVENTS else 3)
    sink.flush()
    assert [emf_problems(line) for line in lines] == [[] for _ in lines]
    durations = [v for line in lines for v in json.loads(line).get(contract.DURATION, [])]
    assert len(durations) == 10_000
    assert sum(json.loads(line).get(contract.PROCESSED, 0) for line in lines) == 10_000


def test_the_emf_checker_catches_what_the_specification_forbids():
    """The checker must be able to fail: each broken document is reported."""
    from tests.worker.emf_spec import emf_problems

    good = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "NS",
                    "Dimensions": [["QueueName"]],
                    "Metrics": [{"Name": "M", "Unit": "Count"}],
                }
            ],
        },
        "QueueName": "q",
        "M": 1.0,
    }
    assert emf_problems(json.dumps(good)) == []
    seconds = json.loads(json.dumps(good))
    seconds["_aws"]["Timestamp"] = int(time.time())
    no_dimension = {k: v for k, v in good.items() if k != "QueueName"}
    text_value = {**good, "M": "1"}
    long_array = {**good, "M": [1.0] * 101}
    bad_unit = json.loads(json.dumps(good))
    bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "ms"
    for broken in (seconds, no_dimension, text_value, long_array, bad_unit):
        assert emf_problems(json.dumps(broken)), broken


# --- a key with control characters -------------------------------------------------------------------

SQS_ALLOWED = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


def refuse_what_sqs_refuses(params, **_):
    """moto accepts any character; SQS refuses those outside SendMessage's documented set
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)."""
    texts = [params.get("MessageBody", "")]
    texts += [value.get("StringValue", "") for value in params.get("MessageAttributes", {}).values()]
    for text in texts:
        if not SQS_ALLOWED.match(text):
            raise ClientError(
                {"Error": {"Code": "InvalidParameterValue", "Message": "Invalid binary character"}},
                "SendMessage",
            )


def test_a_key_with_control_characters_is_dead_lettered_with_its_reason(aws, pipeline, marker_dir):
    """S3 keys may hold any UTF-8, control characters too; the event carries them URL-encoded."""
    from sandbox.local_aws import client

    _, sqs, _ = aws
    strict = client(sqs.meta.endpoint_url, "sqs")
    strict.meta.events.register("provide-client-params.sqs.SendMessage", refuse_what_sqs_refuses)
    arn = queue_arn(sqs, pipeline.queue_url)
    rec = record(arn, s3_body("uploads/perm-ctl%01name%1F.pdf"))
    run, _ = make_runtime(strict)
    response = handle_batch({"Records": [rec]}, Context(30), run)
    assert failed_ids(response) == []  # not retried until SQS redrives it without a reason
    reason = dead_letters(sqs, pipeline.dlq_url)[rec["messageId"]]["Reason"]
    assert "perm-ctl\ufffdname\ufffd.pdf" in reason
    assert processors.calls(marker_dir, "uploads/perm-ctl\x01name\x1f.pdf")


# --- a FIFO queue (fed by EventBridge: S3 notifications cannot target FIFO queues) -------------------


def test_a_fifo_queue_dead_letters_into_its_fifo_dlq(aws, marker_dir):
    """A FIFO queue's DLQ is FIFO; SendMessage to it needs MessageGroupId (and a deduplication id
    without content-based deduplication): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html"""
    _, sqs, _ = aws
    name = f"adv-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq)
    work = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )["QueueUrl"]
    arn = queue_arn(sqs, work)
    perm = record(
        arn,
        eventbridge_body("uploads/perm-fifo.pdf"),
        MessageGroupId="uploads",
        SequenceNumber="1",
        MessageDeduplicationId="d1",
    )
    last = record(
        arn,
        eventbridge_body("uploads/always-fifo.txt"),
        MessageGroupId="uploads",
        ApproximateReceiveCount="3",
    )
    run, _ = make_runtime(sqs)
    response = handle_batch({"Records": [perm, last]}, Context(30), run)
    assert failed_ids(response) == []
    assert set(dead_letters(sqs, dlq)) == {perm["messageId"], last["messageId"]}


@pytest.mark.parametrize("operation", ["HeadObject", "PutObject"])
def test_an_index_bucket_denied_is_fatal_and_dead_letters_nothing(aws, pipeline, operation):
    """AccessDenied on the index bucket: every file would fail, so none is dead-lettered; the batch
    comes back after the visibility timeout while the alarms fire."""
    from sandbox.local_aws import client
    from worker.indexer import Indexer

    s3, sqs, _ = aws
    denied = client(s3.meta.endpoint_url, "s3")

    def deny(params, **_):
        if params.get("Bucket") == pipeline.index_bucket:
            code = "403" if operation == "HeadObject" else "AccessDenied"
            raise ClientError({"Error": {"Code": code, "Message": "denied"}}, operation)

    denied.meta.events.register(f"provide-client-params.s3.{operation}", deny)
    keys = [f"uploads/denied-{operation}-{n}.txt" for n in range(3)]
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x", ContentType="text/plain")
    arn = queue_arn(sqs, pipeline.queue_url)
    records = [record(arn, s3_body(key, bucket=pipeline.upload_bucket)) for key in keys]
    run, emf = make_runtime(
        sqs, processor=Indexer(denied, pipeline.index_bucket, pipeline.index_prefix).index
    )
    response = handle_batch({"Records": records}, Context(30), run)
    assert failed_ids(response) == [r["messageId"] for r in records]
    assert dead_letters(sqs, pipeline.dlq_url) == {}
