"""The Lambda handler against moto server: the partial batch response, explicit dead letters with a
reason, the deadline, a fatal error, and the property that each record ends in exactly one place."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from tests.worker import processors
from tests.worker.lambda_events import (
    Context,
    dead_letters,
    failed_ids,
    queue_arn,
    receive_all,
    s3_body,
    sqs_event,
)
from worker import contract
from worker.errors import (
    ConfigurationError,
    ObjectGone,
    PermanentError,
    WorkerFatalError,
    classify_exception,
)
from worker.events import S3ObjectEvent
from worker.handler_core import call_processor, verdict_for
from worker.indexer import Indexer
from worker.lambda_handler import HandlerSettings, Runtime, handle_batch
from worker.outcomes import Outcome

MAX_RECEIVE_COUNT = 3  # pipeline_factory's default


@pytest.fixture
def pipeline(pipeline_factory):
    return pipeline_factory(visibility_timeout=30, max_receive_count=MAX_RECEIVE_COUNT)


def runtime(sqs, processor=processors.by_key_prefix, **settings) -> tuple[Runtime, list[dict]]:
    lines: list[str] = []
    emf: list[dict] = []

    def write(line: str) -> None:
        lines.append(line)
        emf.append(json.loads(line))

    handler_settings = HandlerSettings(
        metric_namespace="Test/Lambda", retry_backoff_base_seconds=0, **settings
    )
    return Runtime(handler_settings, sqs, processor, write_metrics=write), emf


def send(sqs, pipeline, bodies: list[str]) -> list[str]:
    return [sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)["MessageId"] for body in bodies]


def invoke(sqs, pipeline, ids, run, seconds=60.0, receive_counts=None):
    """Receive everything waiting (the pipeline's s3:TestEvent too) and hand it to the handler."""
    messages = receive_all(sqs, pipeline.queue_url, expected=len(ids) + 1)
    assert set(ids) <= {m["MessageId"] for m in messages}
    event = sqs_event(messages, queue_arn(sqs, pipeline.queue_url), receive_counts)
    return handle_batch(event, Context(seconds), run)


def emf_sum(emf: list[dict], name: str) -> float:
    total = 0.0
    for document in emf:
        value = document.get(name)
        if value is not None:
            total += sum(value) if isinstance(value, list) else value
    return total


def test_good_bad_and_odd_records_partial_failure_ids(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    ok, perm, transient, odd, test_event = send(
        sqs,
        pipeline,
        [
            s3_body("uploads/ok-報告書 1.txt"),
            s3_body("uploads/perm-壊れた.pdf"),
            s3_body("uploads/always-flaky.txt"),
            "not json at all",
            json.dumps({"Event": "s3:TestEvent"}),
        ],
    )
    run, emf = runtime(sqs)
    response = invoke(sqs, pipeline, [ok, perm, transient, odd, test_event], run)
    assert failed_ids(response) == [transient]  # the only one SQS hands out again
    dead = dead_letters(sqs, pipeline.dlq_url)
    assert set(dead) == {perm, odd}  # dead-lettered explicitly, then deleted by the mapping
    assert dead[perm]["ErrorType"] == "PermanentError" and "can never be indexed" in dead[perm]["Reason"]
    assert dead[odd]["ErrorType"] == "NotAnS3Event" and "not JSON" in dead[odd]["Reason"]
    assert dead[perm]["SourceQueue"] == pipeline.queue_url.rsplit("/", 1)[-1]
    assert processors.calls(marker_dir, "uploads/ok-報告書 1.txt")  # decoded key, processed once
    assert len(processors.calls(marker_dir, "uploads/ok-報告書 1.txt")) == 1
    # the EMF lines carry the worker's metric names, namespace and QueueName dimension
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Test/Lambda" and directive["Dimensions"] == [[contract.QUEUE_DIMENSION]]
    assert emf[0][contract.QUEUE_DIMENSION] == pipeline.queue_url.rsplit("/", 1)[-1]
    assert emf_sum(emf, contract.PROCESSED) == 1
    assert emf_sum(emf, contract.DEAD_LETTERED) == 2
    assert emf_sum(emf, contract.FAILED) == 3  # permanent, not an S3 event, transient
    assert emf_sum(emf, contract.TEST_EVENTS) >= 1


def test_sns_wrapped_event_is_processed(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    body = json.dumps({"Type": "Notification", "Message": s3_body("uploads/ok-via sns.txt")})
    (message_id,) = send(sqs, pipeline, [body])
    run, _ = runtime(sqs)
    response = invoke(sqs, pipeline, [message_id], run)
    assert failed_ids(response) == []
    assert len(processors.calls(marker_dir, "uploads/ok-via sns.txt")) == 1


def test_the_default_processor_indexes_in_process(aws, pipeline):
    s3, sqs, _ = aws
    key = "uploads/議事録 定例会.txt"
    s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body="本文".encode(), ContentType="text/plain")
    ids = [m["MessageId"] for m in receive_all(sqs, pipeline.queue_url, expected=2, visibility=0)]
    indexer = Indexer(s3, pipeline.index_bucket, pipeline.index_prefix)
    run, emf = runtime(sqs, processor=indexer.index)
    response = invoke(sqs, pipeline, ids, run)
    assert failed_ids(response) == []
    document = json.loads(
        s3.get_object(
            Bucket=pipeline.index_bucket, Key=indexer.document_key_for(pipeline.upload_bucket, key)
        )["Body"].read()
    )
    assert document["text"] == "本文"
    assert emf_sum(emf, contract.PROCESSED) == 1


def test_transient_failure_is_listed_and_last_receive_is_dead_lettered(aws, pipeline, marker_dir):
    _, sqs, _ = aws
    early, last = send(sqs, pipeline, [s3_body("uploads/always-a.txt"), s3_body("uploads/always-b.txt")])
    run, _ = runtime(sqs)
    response = invoke(sqs, pipeline, [early, last], run, receive_counts={early: 1, last: MAX_RECEIVE_COUNT})
    assert failed_ids(response) == [early]
    dead = dead_letters(sqs, pipeline.dlq_url)
    assert list(dead) == [last]
    assert dead[last]["Reason"].startswith(f"last receive ({MAX_RECEIVE_COUNT} of maxReceiveCount 3)")
    assert dead[last]["ErrorType"] == "RuntimeError"


def test_a_failing_dlq_send_lists_the_record_instead(aws, pipeline, marker_dir):
    s3, sqs, _ = aws
    (perm,) = send(sqs, pipeline, [s3_body("uploads/perm-x.pdf")])
    from sandbox.local_aws import client

    failing = client(sqs.meta.endpoint_url, "sqs")

    def refuse(**_):
        raise ClientError({"Error": {"Code": "KMS.AccessDeniedException", "Message": "no"}}, "SendMessage")

    failing.meta.events.register("before-call.sqs.SendMessage", refuse)
    run, _ = runtime(failing)
    response = invoke(failing, pipeline, [perm], run)
    assert failed_ids(response) == [perm]  # never lost: SQS hands it out again
    assert dead_letters(sqs, pipeline.dlq_url) == {}


def test_a_fatal_error_fails_every_unfinished_record_and_dead_letters_none(aws, pipeline):
    s3, sqs, _ = aws
    keys = ["uploads/a.txt", "uploads/b.txt", "uploads/c.txt"]
    for key in keys:
        s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x", ContentType="text/plain")
    messages = receive_all(sqs, pipeline.queue_url, expected=4, visibility=0)
    files = [m["MessageId"] for m in messages if "s3:TestEvent" not in m["Body"]]
    gone_index = Indexer(s3, "no-such-index-bucket-for-this-test", "")
    run, emf = runtime(sqs, processor=gone_index.index)
    response = invoke(sqs, pipeline, [m["MessageId"] for m in messages], run)
    assert set(files) <= set(failed_ids(response)) and len(files) == 3
    assert dead_letters(sqs, pipeline.dlq_url) == {}
    assert emf_sum(emf, contract.FAILED) == 0  # the files did not fail: the worker could not work


def test_records_not_started_when_time_runs_short_are_listed(aws, pipeline, marker_dir, monkeypatch):
    _, sqs, _ = aws
    monkeypatch.setenv("SLOW_SECONDS", "2.0")  # the whole invocation
    first, second = send(sqs, pipeline, [s3_body("uploads/slow-1.txt"), s3_body("uploads/ok-2.txt")])
    messages = receive_all(sqs, pipeline.queue_url, expected=3)
    ours = [m for m in messages if m["MessageId"] in (first, second)]
    ours.sort(key=lambda m: m["MessageId"] != first)
    run, _ = runtime(sqs)
    event = sqs_event(ours, queue_arn(sqs, pipeline.queue_url))
    response = handle_batch(event, Context(2.0), run)
    assert failed_ids(response) == [second]  # the slow one finished; the next was not started
    assert len(processors.calls(marker_dir, "uploads/slow-1.txt")) == 1
    assert processors.calls(marker_dir, "uploads/ok-2.txt") == []
    again = receive_all(sqs, pipeline.queue_url, expected=1, wait_seconds=0)
    assert second in {m["MessageId"] for m in again}  # handed back at once, not after the visibility


# --- the property: each record ends in exactly one place --------------------------------------------

KINDS = {
    "ok": lambda n: s3_body(f"uploads/ok-{n}.txt", sequencer=f"{n:04X}"),
    "perm": lambda n: s3_body(f"uploads/perm-{n}.pdf", sequencer=f"{n:04X}"),
    "transient": lambda n: s3_body(f"uploads/always-{n}.txt", sequencer=f"{n:04X}"),
    "gone": lambda n: "{not json",
    "test": lambda n: json.dumps({"Event": "s3:TestEvent"}),
}
_serial = iter(range(10**9))


@settings(max_examples=examples(12), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(sorted(KINDS)), st.integers(1, MAX_RECEIVE_COUNT)), min_size=1, max_size=6
    )
)
def test_every_record_ends_deleted_listed_or_dead_lettered_never_two(aws, pipeline, marker_dir, batch):
    _, sqs, _ = aws
    receive_all(sqs, pipeline.queue_url, expected=10, wait_seconds=0, visibility=600)  # test events out
    ids = send(sqs, pipeline, [KINDS[kind](next(_serial)) for kind, _ in batch])
    counts = {message_id: count for message_id, (_, count) in zip(ids, batch, strict=True)}
    messages = [
        m for m in receive_all(sqs, pipeline.queue_url, expected=len(ids)) if m["MessageId"] in counts
    ]
    run, _ = runtime(sqs)
    response = handle_batch(sqs_event(messages, queue_arn(sqs, pipeline.queue_url), counts), Context(60), run)
    listed = set(failed_ids(response))
    dead = dead_letters(sqs, pipeline.dlq_url)
    for message_id, (kind, count) in zip(ids, batch, strict=True):
        places = [message_id in listed, message_id in dead]
        assert sum(places) <= 1, (kind, count)
        if message_id in dead:
            assert dead[message_id]["Reason"], kind
        expected_listed = kind == "transient" and count < MAX_RECEIVE_COUNT
        expected_dead = kind in ("perm", "gone") or (kind == "transient" and count >= MAX_RECEIVE_COUNT)
        assert (message_id in listed, message_id in dead) == (expected_listed, expected_dead), (kind, count)
    for message in messages:  # the example is over: nothing it sent stays for the next one
        sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"])


# --- without a server -------------------------------------------------------------------------------

BOTO3_AND_ITS_DEPENDENCIES = {
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
    "certifi",
}
"""certifi: botocore uses it when installed, and falls back to its own CA bundle when not."""


def test_the_handler_imports_only_the_worker_the_standard_library_and_boto3():
    """What the function's zip needs beside the runtime's boto3: the worker package (and, for PDFs,
    the indexer's pypdf, imported only when a PDF is indexed)."""
    import os
    import subprocess
    import sys

    from tests.paths import REPO_ROOT

    code = (
        "import sys, worker.lambda_handler, worker.child, worker.config;"
        "worker.child.load_processor(worker.config.DEFAULT_PROCESSOR);"
        "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    environment = {key: value for key, value in os.environ.items() if key != "AWS_LAMBDA_FUNCTION_NAME"}
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = {
        name
        for name in loaded
        if name not in sys.stdlib_module_names and not name.startswith("_") and name != "worker"
    }
    assert outside <= BOTO3_AND_ITS_DEPENDENCIES, outside


def test_handler_settings_come_from_the_function_environment():
    settings = HandlerSettings.from_environ(
        {
            contract.METRIC_NAMESPACE: "CISFileSearch/Worker",
            contract.INDEX_BUCKET: "index-bucket",
            contract.MAX_RECEIVE_COUNT: "5",
            contract.RETRY_BACKOFF_BASE_SECONDS: "0",
        }
    )
    assert settings.metric_namespace == "CISFileSearch/Worker"
    assert settings.declared_max_receive_count == 5
    assert settings.retry_backoff_base_seconds == 0
    assert settings.file_processor == "worker.indexer:index_file"
    with pytest.raises(ConfigurationError, match="MAX_RECEIVE_COUNT='many' is not a number"):
        HandlerSettings.from_environ({contract.MAX_RECEIVE_COUNT: "many"})


def test_an_empty_event_is_a_complete_success_without_any_call():
    run = Runtime(HandlerSettings(), sqs=None, processor=processors.by_key_prefix, write_metrics=print)
    assert handle_batch({"Records": []}, Context(10), run) == {"batchItemFailures": []}


def _raises(error: BaseException):
    def processor(_event) -> None:
        raise error

    return processor


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (PermanentError("corrupt"), Outcome.PERMANENT_FAILURE),
        (ObjectGone("gone"), Outcome.OBJECT_GONE),
        (WorkerFatalError("index bucket gone"), Outcome.WORKER_FATAL),
        (ClientError({"Error": {"Code": "NoSuchKey", "Message": ""}}, "GetObject"), Outcome.OBJECT_GONE),
        (
            ClientError({"Error": {"Code": "AccessDenied", "Message": ""}}, "GetObject"),
            Outcome.PERMANENT_FAILURE,
        ),
        (ClientError({"Error": {"Code": "SlowDown", "Message": ""}}, "GetObject"), Outcome.TRANSIENT_FAILURE),
        (TimeoutError("read timed out"), Outcome.TRANSIENT_FAILURE),
    ],
)
def test_in_process_calls_are_classified_as_the_child_process_classifies_them(error, outcome):
    event = S3ObjectEvent("uploads-bucket", "uploads/a.txt", 1, "e")
    verdict = call_processor(_raises(error), event)
    assert verdict == verdict_for(
        *classify_exception(error)
    )  # the EC2 worker's path: child -> kind -> verdict
    assert verdict.outcome is outcome
    assert call_processor(lambda _event: None, event).outcome is Outcome.PROCESSED
