"""The ESM emulation against moto server: partial batch responses, retries that end in the DLQ with
a reason, and a timeout that kills the invocation and brings the whole batch back after the
visibility timeout. Plus the response rules and EMF extraction, without a server."""

from __future__ import annotations

import json
import time

import pytest

from sandbox.lambda_emulator import EventSourceMapping, Invocation, LambdaSettings, emf_metric_data
from sandbox.local_aws import local_environment, queue_depth, wait_until
from tests.worker import processors
from tests.worker.lambda_events import dead_letters, queue_arn, s3_body
from worker import contract, metrics


def mapping(aws, pipeline, marker_dir, tmp_path, settings: LambdaSettings, **extra) -> EventSourceMapping:
    _, sqs, cloudwatch = aws
    environment = {
        **local_environment(sqs.meta.endpoint_url),
        "PATH": "/usr/bin:/bin",
        "MARKER_DIR": str(marker_dir),
        contract.FILE_PROCESSOR: "tests.worker.processors:by_key_prefix",
        contract.METRIC_NAMESPACE: pipeline.metric_namespace,
        contract.RETRY_BACKOFF_BASE_SECONDS: "0",
        **extra,
    }
    return EventSourceMapping(
        sqs,
        cloudwatch,
        pipeline.queue_url,
        queue_arn(sqs, pipeline.queue_url),
        settings,
        environment,
        tmp_path / "logs",
        poll_wait_seconds=1,
    )


def settings(**overrides) -> LambdaSettings:
    values = dict(
        batch_size=5,
        batching_window_seconds=1,
        maximum_concurrency=2,
        function_timeout_seconds=10,
        visibility_timeout_seconds=30,
    )
    return LambdaSettings(**(values | overrides))


def metric_sum(cloudwatch, pipeline, name: str) -> float:
    from datetime import UTC, datetime, timedelta

    points = cloudwatch.get_metric_statistics(
        Namespace=pipeline.metric_namespace,
        MetricName=name,
        Dimensions=[{"Name": contract.QUEUE_DIMENSION, "Value": pipeline.queue_url.rsplit("/", 1)[-1]}],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=10),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in points)


def test_partial_failures_and_retries_end_deleted_or_in_the_dlq_with_a_reason(
    aws, pipeline_factory, marker_dir, tmp_path
):
    _, sqs, cloudwatch = aws
    pipeline = pipeline_factory(visibility_timeout=30, max_receive_count=3)
    for key in ("uploads/ok-報告書.txt", "uploads/perm-壊れた.pdf", "uploads/always-落ちる.txt"):
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=s3_body(key))
    # a function timeout far above what three records take, even on a loaded machine
    with mapping(aws, pipeline, marker_dir, tmp_path, settings(function_timeout_seconds=25)) as esm:
        wait_until(lambda: queue_depth(sqs, pipeline.queue_url) == (0, 0), 60, message="the queue to drain")
    assert len(processors.calls(marker_dir, "uploads/ok-報告書.txt")) == 1, esm.stats
    assert len(processors.calls(marker_dir, "uploads/perm-壊れた.pdf")) == 1
    # transient: listed, released at once (backoff base 0), received again up to maxReceiveCount
    assert len(processors.calls(marker_dir, "uploads/always-落ちる.txt")) == 3
    dead = {
        attributes["ErrorType"]: attributes for attributes in dead_letters(sqs, pipeline.dlq_url).values()
    }
    assert set(dead) == {"PermanentError", "RuntimeError"}
    assert dead["RuntimeError"]["Reason"].startswith("last receive (3 of maxReceiveCount 3)")
    assert esm.stats.timeouts == 0 and esm.stats.errors == 0
    assert esm.stats.max_concurrent <= 2
    handled = [line for line in esm.log_lines() if line.get("message") == "message handled"]
    assert {line["action"] for line in handled} >= {"delete", "dead_letter", "release"}
    # the EMF lines reached moto's CloudWatch under the worker's names and dimension
    assert metric_sum(cloudwatch, pipeline, metrics.PROCESSED) == 1
    assert metric_sum(cloudwatch, pipeline, metrics.DEAD_LETTERED) == 2


def test_a_timeout_kills_the_invocation_and_the_batch_returns_after_the_visibility_timeout(
    aws, pipeline_factory, marker_dir, tmp_path
):
    _, sqs, _ = aws
    visibility = 4
    pipeline = pipeline_factory(visibility_timeout=visibility, max_receive_count=5)
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=s3_body("uploads/hang-止まる.txt"))
    esm = mapping(
        aws,
        pipeline,
        marker_dir,
        tmp_path,
        settings(batch_size=1, batching_window_seconds=0, function_timeout_seconds=1, maximum_concurrency=1),
    )
    with esm:
        wait_until(
            lambda: processors.calls(marker_dir, "uploads/hang-止まる.txt"), 30, message="the first call"
        )
        first = time.monotonic()
        wait_until(lambda: esm.stats.timeouts >= 1, 10, message="the function timeout")
        assert processors.running_pids(marker_dir) == []  # the environment was killed, call and all
        wait_until(
            lambda: len(processors.calls(marker_dir, "uploads/hang-止まる.txt")) >= 2,
            30,
            message="a second call",
        )
        second = time.monotonic()
    assert second - first >= visibility - 0.5  # back only when the visibility timeout ran out
    assert esm.stats.messages_deleted <= 1  # the pipeline's s3:TestEvent; never the hung one
    assert esm.stats.cold_starts >= 2  # a new environment after the timeout


# --- without a server ---------------------------------------------------------------------------------

IDS = {"a", "b"}


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (Invocation("ok", response={"batchItemFailures": []}), set()),
        (Invocation("ok", response={"batchItemFailures": None}), set()),
        (Invocation("ok", response=None), set()),
        (Invocation("ok", response={}), set()),
        (Invocation("ok", response={"batchItemFailures": [{"itemIdentifier": "b"}]}), {"b"}),
        (Invocation("ok", response={"batchItemFailures": [{"itemIdentifier": ""}]}), IDS),
        (Invocation("ok", response={"batchItemFailures": [{"itemIdentifier": None}]}), IDS),
        (Invocation("ok", response={"batchItemFailures": [{"id": "a"}]}), IDS),
        (Invocation("ok", response={"batchItemFailures": [{"itemIdentifier": "zzz"}]}), IDS),
        (Invocation("error", error="RuntimeError: boom"), IDS),
        (Invocation("timeout"), IDS),
    ],
)
def test_the_documented_success_and_failure_conditions(result, failed):
    assert EventSourceMapping._failed_ids(result, set(IDS)) == failed


def test_emf_lines_become_metric_data_and_other_lines_do_not():
    sink_lines: list[str] = []
    emf = metrics.EmbeddedMetrics("NS/Test", {"QueueName": "q"}, sink_lines.append)
    emf.count(metrics.PROCESSED, 2)
    emf.duration(120.0)
    emf.duration(80.0)
    emf.flush()
    data = [datum for line in sink_lines for _, chunk in emf_metric_data(line) for datum in chunk]
    by_name = {datum["MetricName"]: datum for datum in data}
    assert by_name[metrics.PROCESSED]["Value"] == 2.0
    assert by_name[metrics.DURATION]["StatisticValues"]["Sum"] == 200.0
    assert by_name[metrics.DURATION]["Unit"] == "Milliseconds"
    assert by_name[metrics.PROCESSED]["Dimensions"] == [{"Name": "QueueName", "Value": "q"}]
    assert emf_metric_data(json.dumps({"message": "message handled"})) == []
    assert emf_metric_data("not json") == []


def test_settings_refuse_a_large_batch_without_a_window():
    with pytest.raises(ValueError, match="batching window"):
        settings(batch_size=50, batching_window_seconds=0)
