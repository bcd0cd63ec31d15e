"""`python -m worker` publishes `WorkerCrashed` once at each start-up: 1 when the previous run on this
host ended without its clean shutdown (its marker was still there), else 0 (worker/crash_marker.py).
The rollout audit sums it for the plan's "no worker crashes" (docs/audit.md)."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from sandbox.local_aws import wait_until
from tests.worker.workers import log_lines, read_until, start_worker, stop_worker
from worker.contract import QUEUE_DIMENSION, WORKER_CRASHED
from worker.crash_marker import MARKER_NAME

READY = "slots ready; receiving"


def _published(cloudwatch, pipeline) -> list[float]:
    """Every WorkerCrashed value the worker put for this pipeline's queue (one datapoint a minute)."""
    now = datetime.now(UTC)
    response = cloudwatch.get_metric_statistics(
        Namespace=pipeline.metric_namespace,
        MetricName=WORKER_CRASHED,
        Dimensions=[{"Name": QUEUE_DIMENSION, "Value": pipeline.queue_url.rsplit("/", 1)[-1]}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )
    points = response["Datapoints"]
    return [sum(p["SampleCount"] for p in points), sum(p["Sum"] for p in points)]


def _start(pipeline, endpoint, marker_dir, **settings):
    worker = start_worker(pipeline, endpoint, marker_dir, **settings)
    output = read_until(worker, READY)
    return worker, output


def test_a_clean_stop_then_a_start_publishes_zero(aws, aws_endpoint, pipeline_factory, marker_dir, tmp_path):
    _, _, cloudwatch = aws
    pipeline = pipeline_factory()
    state = tmp_path / "state"
    worker, _ = _start(pipeline, aws_endpoint, marker_dir, WORKER_STATE_DIR=str(state), RUNTIME_DIRECTORY="")
    assert (state / MARKER_NAME).exists()
    output = stop_worker(worker)
    assert worker.returncode == 0, output
    assert not (state / MARKER_NAME).exists(), "a clean shutdown removes the marker"

    again, _ = _start(pipeline, aws_endpoint, marker_dir, WORKER_STATE_DIR=str(state), RUNTIME_DIRECTORY="")
    try:
        wait_until(lambda: _published(cloudwatch, pipeline)[0] >= 2, 30, message="two WorkerCrashed")
    finally:
        stop_worker(again)
    assert _published(cloudwatch, pipeline) == [2, 0]  # one datum per start, both 0


def test_a_kill_9_then_a_start_publishes_one(aws, aws_endpoint, pipeline_factory, marker_dir, tmp_path):
    _, _, cloudwatch = aws
    pipeline = pipeline_factory()
    runtime = tmp_path / "run" / "file-processor"
    runtime.mkdir(parents=True)  # systemd creates RuntimeDirectory= and passes it as $RUNTIME_DIRECTORY
    worker, _ = _start(pipeline, aws_endpoint, marker_dir, RUNTIME_DIRECTORY=str(runtime))
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert (runtime / MARKER_NAME).exists()

    again, output = _start(pipeline, aws_endpoint, marker_dir, RUNTIME_DIRECTORY=str(runtime))
    try:
        wait_until(lambda: _published(cloudwatch, pipeline)[0] >= 2, 30, message="two WorkerCrashed")
    finally:
        output += stop_worker(again)
    assert _published(cloudwatch, pipeline) == [2, 1]  # the first start 0, the start after the kill 1
    assert any("without a clean shutdown" in line.get("message", "") for line in log_lines(output))


def test_without_a_state_directory_nothing_is_published(aws, aws_endpoint, pipeline_factory, marker_dir):
    _, _, cloudwatch = aws
    pipeline = pipeline_factory()
    worker, output = _start(pipeline, aws_endpoint, marker_dir, WORKER_STATE_DIR="", RUNTIME_DIRECTORY="")
    output += stop_worker(worker)
    assert worker.returncode == 0, output
    assert any(
        "no crash marker" in line.get("message", "") and WORKER_CRASHED in line["message"]
        for line in log_lines(output)
    )
    assert _published(cloudwatch, pipeline) == [0, 0]


def test_an_unwritable_state_directory_is_a_configuration_error(
    aws, aws_endpoint, pipeline_factory, marker_dir, tmp_path
):
    pipeline = pipeline_factory()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    worker = start_worker(pipeline, aws_endpoint, marker_dir, WORKER_STATE_DIR=str(blocker / "state"))
    try:
        output, _ = worker.communicate(timeout=60)  # exits by itself after its start-up checks
    finally:
        worker.kill()
    assert worker.returncode == 2, output
    errors = [line for line in log_lines(output) if line.get("error") == "ConfigurationError"]
    assert errors and "WORKER_STATE_DIR" in errors[0]["message"] and str(blocker) in errors[0]["message"]
