"""The worker's pure parts: parsing S3 bodies, combining verdicts, backoff, configuration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.config import WorkerConfig
from worker.errors import ConfigurationError, PermanentError, WorkerFatalError, classify_exception
from worker.events import BodyKind, parse_body
from worker.indexer import Indexer
from worker.outcomes import Outcome, Verdict, combine
from worker.sqs_actions import backoff_seconds


def s3_body(key: str, bucket: str = "uploads-bucket") -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key, "size": 5, "eTag": '"abc"', "sequencer": "01"},
                    },
                }
            ]
        }
    )


def test_keys_are_decoded_once():
    parsed = parse_body(s3_body("uploads/%E5%A0%B1%E5%91%8A%E6%9B%B8+2024+%2B+final.pdf"))
    assert parsed.kind is BodyKind.OBJECT_EVENTS
    (event,) = parsed.events
    assert event.key == "uploads/報告書 2024 + final.pdf"
    assert (event.bucket, event.size, event.etag) == ("uploads-bucket", 5, "abc")


@given(st.text(min_size=1, max_size=40))
def test_any_key_survives_the_round_trip_through_s3_encoding(key):
    from urllib.parse import quote_plus

    (event,) = parse_body(s3_body(quote_plus(key, safe="/"))).events
    assert event.key == key


def test_test_event_is_recognised():
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert parse_body(body).kind is BodyKind.TEST_EVENT


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"Records": []}', "no Records"),
        ('{"Records": [{"eventSource": "aws:sns"}]}', "eventSource is 'aws:sns'"),
        ('{"Records": [{"eventSource": "aws:s3", "s3": {}}]}', "record 0 is not an S3 object event"),
    ],
)
def test_bodies_that_are_not_s3_events_carry_a_reason(body, reason):
    parsed = parse_body(body)
    assert parsed.kind is BodyKind.NOT_AN_S3_EVENT
    assert reason in parsed.reason


def test_the_most_cautious_verdict_wins():
    processed, permanent, transient = (
        Verdict(Outcome.PROCESSED),
        Verdict(Outcome.PERMANENT_FAILURE),
        Verdict(Outcome.TRANSIENT_FAILURE),
    )
    assert combine([processed, permanent]).outcome is Outcome.PERMANENT_FAILURE
    assert combine([processed, permanent]).failed_records == 1
    assert combine([permanent, transient, processed]).outcome is Outcome.TRANSIENT_FAILURE
    assert combine([processed]) is processed
    assert combine([processed, Verdict(Outcome.DUPLICATE)]) is processed


def test_backoff_grows_with_the_receive_count_and_is_capped_by_visibility():
    assert [backoff_seconds(count, 15, 900) for count in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert backoff_seconds(20, 15, 900) == 900


BASE_ENVIRONMENT = {
    "QUEUE_URL": "https://sqs/q",
    "PROCESSING_TIMEOUT_SECONDS": "900",
    "METRIC_NAMESPACE": "CISFileSearch/Worker",
    "INDEX_BUCKET": "index",
}


def test_configuration_from_the_environment_file():
    config = WorkerConfig.from_environ(
        {**BASE_ENVIRONMENT, "INDEX_PREFIX": "documents/", "WORKER_CONCURRENCY": "8"}
    )
    assert (config.processing_timeout_seconds, config.concurrency, config.index_prefix) == (
        900,
        8,
        "documents/",
    )
    assert config.file_processor == "worker.indexer:index_file"
    assert config.receive_wait_seconds == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"QUEUE_URL": ""}, "QUEUE_URL is not set"),
        ({"PROCESSING_TIMEOUT_SECONDS": "soon"}, "PROCESSING_TIMEOUT_SECONDS='soon' is not a number"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY='0' is outside the allowed range"),
        ({"RECEIVE_WAIT_SECONDS": "21"}, "RECEIVE_WAIT_SECONDS='21' is outside the allowed range"),
    ],
)
def test_configuration_errors_name_the_variable(change, message):
    with pytest.raises(ConfigurationError, match=message):
        WorkerConfig.from_environ({**BASE_ENVIRONMENT, **change})


# --- bodies: parsing never raises; SNS and EventBridge shapes; records one by one ---------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
record_like = st.fixed_dictionaries(
    {"eventSource": st.sampled_from(["aws:s3", "aws:sns", None]), "s3": json_values},
    optional={"eventName": json_values},
)


@given(
    st.one_of(
        json_values,
        st.dictionaries(
            st.sampled_from(
                ["Records", "Type", "Message", "Event", "source", "detail-type", "detail", "key"]
            ),
            json_values,
        ),
        st.fixed_dictionaries({"Records": st.lists(st.one_of(json_values, record_like), max_size=4)}),
    )
)
def test_parsing_never_raises_on_any_json(document):
    parsed = parse_body(json.dumps(document))
    assert parsed.kind in BodyKind
    if parsed.kind is BodyKind.NOT_AN_S3_EVENT:
        assert parsed.reason


@given(st.one_of(st.text(), st.binary(), st.none(), st.integers()))
def test_parsing_never_raises_on_any_body(body):
    parsed = parse_body(body)
    assert parsed.kind is BodyKind.NOT_AN_S3_EVENT and parsed.reason


@pytest.mark.parametrize(
    "body",
    [
        '{"Records":[null]}',
        '{"key":123}',
        '{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":123}}}]}',
    ],
)
def test_the_bodies_that_used_to_raise(body):
    parsed = parse_body(body)
    assert parsed.kind is BodyKind.NOT_AN_S3_EVENT and parsed.reason


def test_sns_envelope_and_test_event_inside_it():
    inner = s3_body("uploads/a+b.txt")
    parsed = parse_body(json.dumps({"Type": "Notification", "Message": inner, "TopicArn": "arn:aws:sns:x"}))
    assert parsed.kind is BodyKind.OBJECT_EVENTS and parsed.envelope == "sns"
    assert parsed.events[0].key == "uploads/a b.txt"
    test_event = json.dumps({"Type": "Notification", "Message": json.dumps({"Event": "s3:TestEvent"})})
    assert parse_body(test_event).kind is BodyKind.TEST_EVENT


def test_eventbridge_object_created_and_other_detail_types():
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": "b"},
            "object": {"key": "dir/%E5%A0%B1.txt", "size": 3, "etag": "e", "sequencer": "9"},
        },
    }
    parsed = parse_body(json.dumps(event))
    assert parsed.kind is BodyKind.OBJECT_EVENTS and parsed.envelope == "eventbridge"
    assert (parsed.events[0].bucket, parsed.events[0].key, parsed.events[0].sequencer) == (
        "b",
        "dir/報.txt",
        "9",
    )
    deleted = parse_body(json.dumps({**event, "detail-type": "Object Deleted"}))
    assert deleted.kind is BodyKind.NOT_AN_S3_EVENT and "Object Deleted" in deleted.reason


def test_good_records_survive_bad_ones():
    good = json.loads(s3_body("uploads/good.txt"))["Records"][0]
    parsed = parse_body(json.dumps({"Records": [None, good, {"eventSource": "aws:s3"}]}))
    assert parsed.kind is BodyKind.OBJECT_EVENTS
    assert [event.key for event in parsed.events] == ["uploads/good.txt"]
    assert [bad.position for bad in parsed.bad_records] == [0, 2]


# --- error classes -----------------------------------------------------------------------------------


def client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("NoSuchBucket"), "permanent"),
        (client_error("KeyTooLongError"), "permanent"),
        (client_error("AccessDenied"), "permanent"),
        (client_error("403"), "permanent"),
        (client_error("NoSuchKey"), "gone"),
        (client_error("SlowDown"), "transient"),
        (client_error("ThrottlingException"), "transient"),
        (client_error("InternalError"), "transient"),
        (client_error("503"), "transient"),
        (TimeoutError("read timed out"), "transient"),
        (PermanentError("corrupt"), "permanent"),
        (WorkerFatalError("index bucket gone"), "fatal"),
        (ValueError("anything else"), "transient"),
    ],
)
def test_errors_are_classified(error, kind):
    assert classify_exception(error)[0] == kind


# --- index keys --------------------------------------------------------------------------------------

keys = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=1100)


@given(keys, keys)
def test_index_keys_fit_s3_and_stay_unique(first, second):
    indexer = Indexer(None, "index-bucket", "documents/")
    a, b = (
        indexer.document_key_for("cis-filesearch-storage-production", first),
        indexer.document_key_for("cis-filesearch-storage-production", second),
    )
    assert len(a.encode()) <= 1024 and len(b.encode()) <= 1024
    assert (a == b) == (first == second)


def test_short_keys_keep_their_readable_index_key():
    indexer = Indexer(None, "index-bucket", "documents/")
    assert indexer.document_key_for("b", "uploads/報告書.pdf") == "documents/b/uploads/報告書.pdf.json"


# --- configuration -----------------------------------------------------------------------------------


def test_dlq_url_is_optional_and_timeouts_are_capped_at_12_hours():
    config = WorkerConfig.from_environ(BASE_ENVIRONMENT)
    assert config.dlq_url is None and config.allow_no_redrive is False
    with pytest.raises(ConfigurationError, match="outside the allowed range"):
        WorkerConfig.from_environ({**BASE_ENVIRONMENT, "PROCESSING_TIMEOUT_SECONDS": "43201"})
    assert WorkerConfig.from_environ({**BASE_ENVIRONMENT, "ALLOW_NO_REDRIVE_POLICY": "true"}).allow_no_redrive
