"""The worker's pure parts: parsing S3 bodies, combining verdicts, backoff, configuration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.config import WorkerConfig
from worker.errors import ConfigurationError
from worker.events import BodyKind, parse_body
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
