"""The incident drill: `python -m sandbox.drill [--replay-incident] [--json]` (`make drill`).

Starts moto server on loopback, deploys the data plane of the production stack from the rendered
program (sandbox/data_plane.py), uploads a realistic mix (sandbox/drill_files.py), runs real worker
processes with the environment the launch template gives them (time values scaled down and stated),
and judges the run from what moto holds — queues, buckets, object versions, CloudWatch metrics —
not from what the workers say. `--replay-incident` runs the pre-fix configuration too (duplicate
notifications, 300 s visibility, no DLQ, a worker that never deletes), bounded in time, side by side.

Exit code: 0 when every success metric of the fixed run passes, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from preview.render import ProgramError, RenderedStack, render_program
from sandbox.data_plane import DataPlane, deploy, scaled_seconds
from sandbox.drill_files import (
    DEAD_LETTERED,
    GONE,
    INDEXED,
    SLOW_FRACTION_OF_PROCESSING,
    DrillFile,
    upload_mix,
)
from sandbox.local_aws import REGION, clients, local_environment, moto_server, queue_depth

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCALE = 6 / 900
"""Production's 900 s become 6 s: the whole incident in seconds."""
INCIDENT_VISIBILITY_SECONDS = 300
SAMPLE_SECONDS = 0.25
WORKER_METRICS = (
    "MessagesProcessed",
    "MessageProcessingFailed",
    "MessagesDeadLettered",
    "MessageDeleteFailed",
)
LAG_LIMIT_SECONDS = 300
THROUGHPUT_FLOOR_PER_HOUR = 100
SUCCESS_RATE_FLOOR = 95.0


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class DrillRun:
    variant: str
    uploads: int
    workers: int
    drained: bool
    seconds: float
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


# --- the variants ---------------------------------------------------------------------------------


def incident_variant(stack: RenderedStack) -> RenderedStack:
    """The pre-fix configuration: 300 s visibility, no redrive, every notification declared twice."""
    variant = copy.deepcopy(stack)
    for queue in variant.of_type("aws:sqs/queue:Queue"):
        if queue.inputs.get("redrivePolicy"):
            queue.inputs["visibilityTimeoutSeconds"] = INCIDENT_VISIBILITY_SECONDS
            queue.inputs.pop("redrivePolicy")
    for notification in variant.of_type("aws:s3/bucketNotification:BucketNotification"):
        notification.inputs["queues"] = notification.inputs["queues"] * 2
    return variant


# --- running one drill ----------------------------------------------------------------------------


@dataclass
class Setup:
    upload_bucket: str
    upload_prefix: str
    index_bucket: str
    index_prefix: str
    queue_url: str
    dlq_url: str | None
    max_receive_count: int | None


def _setup(stack: RenderedStack, plane: DataPlane, sqs: Any) -> Setup:
    notification = stack.of_type("aws:s3/bucketNotification:BucketNotification")[0].inputs
    environment = plane.worker_environment
    queue_url = environment["QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get(
        "Attributes", {}
    )
    redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else None
    return Setup(
        upload_bucket=notification["bucket"],
        upload_prefix=notification["queues"][0].get("filterPrefix", ""),
        index_bucket=environment["INDEX_BUCKET"],
        index_prefix=environment.get("INDEX_PREFIX", ""),
        queue_url=queue_url,
        dlq_url=environment["DLQ_URL"] if redrive else None,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
    )


def run(
    stack: RenderedStack,
    variant: str,
    burst: int,
    workers: int,
    worker_module: str,
    scale: float,
    time_limit: float,
    log_dir: Path,
    progress: bool = True,
) -> DrillRun:
    deployed = incident_variant(stack) if variant == "incident" else stack
    with moto_server() as endpoint:
        s3, sqs, cloudwatch = clients(endpoint)
        # Bucket policies stay out: their TLS-only deny would refuse the plain-HTTP local endpoint.
        plane = deploy(deployed, s3, sqs, cloudwatch, REGION, scale, bucket_policies=False)
        setup = _setup(deployed, plane, sqs)
        files = upload_mix(setup.upload_prefix, burst)
        for drill_file in files:
            s3.put_object(
                Bucket=setup.upload_bucket,
                Key=drill_file.key,
                Body=drill_file.body,
                ContentType=drill_file.content_type,
            )
        for drill_file in files:
            if drill_file.expected == GONE:
                s3.delete_object(Bucket=setup.upload_bucket, Key=drill_file.key)
        environment = {
            **os.environ,
            **local_environment(endpoint),
            **plane.worker_environment,
            "FILE_PROCESSOR": "sandbox.drill_processor:process",
            "DRILL_SLOW_SECONDS": str(
                SLOW_FRACTION_OF_PROCESSING * float(plane.worker_environment["PROCESSING_TIMEOUT_SECONDS"])
            ),
            "RECEIVE_WAIT_SECONDS": "1",
            "METRIC_FLUSH_SECONDS": "1",
            "RETRY_BACKOFF_BASE_SECONDS": str(scaled_seconds(15, scale) if scale < 1 else 15),
            "PYTHONPATH": str(REPO_ROOT),
        }
        started_at = datetime.now(UTC)
        started = time.monotonic()
        processes, logs = _start_workers(worker_module, workers, environment, log_dir / variant)
        samples: list[tuple[float, int, int, int]] = []
        drained = False
        last_progress = 0.0
        try:
            while time.monotonic() - started < time_limit:
                visible, in_flight = queue_depth(sqs, setup.queue_url)
                dead = queue_depth(sqs, setup.dlq_url)[0] if setup.dlq_url else 0
                elapsed = time.monotonic() - started
                samples.append((round(elapsed, 2), visible, in_flight, dead))
                if progress and elapsed - last_progress >= 1:
                    last_progress = elapsed
                    print(
                        f"  [{variant}] {elapsed:5.1f} s  queue {visible:4d} visible {in_flight:3d} in flight  DLQ {dead}",
                        file=sys.stderr,
                        flush=True,
                    )
                if visible == 0 and in_flight == 0 and elapsed > 1:
                    drained = True
                    break
                time.sleep(SAMPLE_SECONDS)
            seconds = time.monotonic() - started
        finally:
            _stop_workers(processes)
        worker_lines = _read_logs(logs)
        facts = _facts(files, setup, s3, sqs, cloudwatch, plane, started_at, worker_lines)
    result = DrillRun(
        variant=variant, uploads=len(files), workers=workers, drained=drained, seconds=round(seconds, 2)
    )
    result.samples = samples
    result.facts = facts
    result.facts["scaled"] = {
        key: {"declared": value[0], "drill": value[1]} for key, value in plane.scaled.items()
    }
    result.checks = success_checks(result, files)
    return result


def _start_workers(
    module: str, count: int, environment: dict[str, str], log_dir: Path
) -> tuple[list[subprocess.Popen], list[Path]]:
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, logs = [], []
    for number in range(count):
        log_path = log_dir / f"worker-{number}.log"
        handle = log_path.open("w", encoding="utf-8")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", module],
                cwd=REPO_ROOT,
                env=environment,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        )
        logs.append(log_path)
    return processes, logs


def _stop_workers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _read_logs(logs: list[Path]) -> list[dict[str, Any]]:
    lines = []
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


# --- what moto holds --------------------------------------------------------------------------------


def _facts(
    files: list[DrillFile],
    setup: Setup,
    s3: Any,
    sqs: Any,
    cloudwatch: Any,
    plane: DataPlane,
    started_at: datetime,
    worker_lines: list[dict[str, Any]],
) -> dict[str, Any]:
    index_writes: dict[str, int] = {}
    lags: list[float] = []
    for drill_file in files:
        document_key = f"{setup.index_prefix}{setup.upload_bucket}/{drill_file.key}.json"
        versions = s3.list_object_versions(Bucket=setup.index_bucket, Prefix=document_key).get("Versions", [])
        versions = [v for v in versions if v["Key"] == document_key]
        index_writes[drill_file.key] = len(versions)
        if versions and drill_file.expected != GONE:
            source = s3.head_object(Bucket=setup.upload_bucket, Key=drill_file.key)["LastModified"]
            first_write = min(v["LastModified"] for v in versions)
            lags.append((first_write - source).total_seconds())
    visible, in_flight = queue_depth(sqs, setup.queue_url)
    # Let messages still hidden by a (stopped) worker become visible, so every one left is counted;
    # probe before reading the DLQ: a receive may itself make SQS redrive a message at maxReceiveCount.
    if in_flight:
        visibility = int(
            sqs.get_queue_attributes(QueueUrl=setup.queue_url, AttributeNames=["VisibilityTimeout"])[
                "Attributes"
            ]["VisibilityTimeout"]
        )
        deadline = time.monotonic() + visibility + 2
        while queue_depth(sqs, setup.queue_url)[1] and time.monotonic() < deadline:
            time.sleep(SAMPLE_SECONDS)
    left_over_receives = _receives_of_left_over_messages(sqs, setup.queue_url)
    dead_lettered = _drain_dlq(sqs, setup.dlq_url) if setup.dlq_url else []
    metrics = {name: _metric_sum(cloudwatch, plane, name, started_at) for name in WORKER_METRICS}
    handled = [line for line in worker_lines if line.get("message") == "message handled"]
    stopped = [line for line in worker_lines if line.get("message") == "stopped"]
    return {
        "queue_left": {"visible": visible, "in_flight": in_flight},
        "max_receives_of_messages_left": max(left_over_receives, default=0),
        "index_writes": index_writes,
        "dead_lettered": dead_lettered,
        "metrics": metrics,
        "max_indexing_lag_seconds": round(max(lags), 2) if lags else None,
        "messages_handled": len(handled),
        "messages_deleted": sum(1 for line in handled if line.get("action") in ("delete", "dead_letter")),
        "max_receive_count_seen": max((int(line.get("receive_count", 0)) for line in handled), default=0),
        "max_receive_count": setup.max_receive_count,
        "sqs_requests": sum(int(line.get("sqs_requests", 0)) for line in stopped) or None,
    }


def _receives_of_left_over_messages(sqs: Any, queue_url: str) -> list[int]:
    """How often the workers received each message still visible in the queue (SQS's own count)."""
    counts: list[int] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["ApproximateReceiveCount"],
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            return counts
        counts += [
            int(m["Attributes"]["ApproximateReceiveCount"]) - 1 for m in messages
        ]  # minus this receive


def _drain_dlq(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    found = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            attributes = {
                k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()
            }
            try:
                key = unquote_plus(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])
            except (KeyError, IndexError, TypeError, ValueError):
                key = "<not an S3 event>"
            redriven = "Reason" not in attributes  # the worker copies with a Reason; SQS's redrive does not
            reason = "redriven by SQS after maxReceiveCount receives" if redriven else attributes["Reason"]
            found.append({"key": key, "reason": reason, "redriven": redriven})


def _metric_sum(cloudwatch: Any, plane: DataPlane, name: str, started_at: datetime) -> float:
    queue_name = plane.worker_environment["QUEUE_URL"].rsplit("/", 1)[-1]
    datapoints = cloudwatch.get_metric_statistics(
        Namespace=plane.worker_environment.get("METRIC_NAMESPACE", "CISFileSearch/Worker"),
        MetricName=name,
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=started_at - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints)


# --- verdicts ---------------------------------------------------------------------------------------


def success_checks(result: DrillRun, files: list[DrillFile]) -> list[Check]:
    """The incident plan's success metrics, judged from moto's state."""
    facts = result.facts
    expected_indexed = [f.key for f in files if f.expected == INDEXED]
    expected_dead = sorted(f.key for f in files if f.expected == DEAD_LETTERED)
    writes = facts["index_writes"]
    not_once = {key: writes[key] for key in expected_indexed if writes[key] != 1}
    unexpected_docs = [f.key for f in files if f.expected != INDEXED and writes[f.key]]
    dead = sorted(entry["key"] for entry in facts["dead_lettered"])
    redriven = [entry["key"] for entry in facts["dead_lettered"] if entry["redriven"]]
    metrics = facts["metrics"]
    processed, failed = metrics["MessagesProcessed"], metrics["MessageProcessingFailed"]
    rate = 100 * processed / (processed + failed) if processed + failed else 0.0
    per_hour = len(expected_indexed) / result.seconds * 3600 if result.drained else 0.0
    lag = facts["max_indexing_lag_seconds"]
    return [
        Check(
            "queue depth falls to zero",
            result.drained,
            f"left: {facts['queue_left']} after {result.seconds:.1f} s",
        ),
        Check(
            "no message reappears (each file indexed exactly once)",
            not not_once
            and not unexpected_docs
            and not redriven
            and facts["max_receives_of_messages_left"] <= 1,
            f"{len(expected_indexed) - len(not_once)}/{len(expected_indexed)} indexed once"
            + (
                f"; messages left in the queue were received up to {facts['max_receives_of_messages_left']} times"
                if facts["max_receives_of_messages_left"] > 1
                else ""
            )
            + (f"; {len(redriven)} redriven to the DLQ after maxReceiveCount receives" if redriven else "")
            + (f"; index writes not 1: {dict(list(not_once.items())[:3])}" if not_once else "")
            + (f"; documents that should not exist: {unexpected_docs}" if unexpected_docs else ""),
        ),
        Check(
            "DLQ stable (only the poison files, with reasons)",
            dead == expected_dead,
            f"DLQ holds {dead}, expected {expected_dead}",
        ),
        Check(
            "no MessageDeleteFailed",
            metrics["MessageDeleteFailed"] == 0,
            f"MessageDeleteFailed = {metrics['MessageDeleteFailed']:g}",
        ),
        Check(
            f"success rate > {SUCCESS_RATE_FLOOR:g} %",
            rate > SUCCESS_RATE_FLOOR,
            f"{rate:.1f} % ({processed:g} processed, {failed:g} failed)",
        ),
        Check(
            f"throughput > {THROUGHPUT_FLOOR_PER_HOUR} files/hour",
            per_hour > THROUGHPUT_FLOOR_PER_HOUR,
            f"{per_hour:,.0f} files/hour",
        ),
        Check(
            f"indexing lag < {LAG_LIMIT_SECONDS // 60} min",
            lag is not None and lag < LAG_LIMIT_SECONDS,
            f"max {lag} s from upload to index document" if lag is not None else "nothing indexed",
        ),
    ]


# --- reporting ----------------------------------------------------------------------------------------


def text_report(runs: list[DrillRun]) -> str:
    lines = []
    for result in runs:
        facts = result.facts
        lines.append(
            f"== {result.variant} configuration: {result.uploads} uploads, {result.workers} workers =="
        )
        for key, values in facts["scaled"].items():
            lines.append(f"   scaled: {key} {values['declared']:g} s -> {values['drill']:g} s")
        lines.append(f"   drained: {'yes' if result.drained else 'no'} after {result.seconds:.1f} s")
        lines.append(
            f"   messages received and handled by workers: {facts['messages_handled']}, deleted: {facts['messages_deleted']}"
        )
        lines.append(
            f"   max receive count seen: {facts['max_receive_count_seen']} (maxReceiveCount: {facts['max_receive_count'] or 'none - no redrive'})"
        )
        writes = [count for count in facts["index_writes"].values() if count]
        lines.append(
            f"   index documents written: {sum(writes)} for {len(writes)} files (max {max(writes, default=0)} writes per file)"
        )
        for entry in facts["dead_lettered"]:
            lines.append(f"   dead-lettered: {entry['key']}: {entry['reason']}")
        if facts["sqs_requests"]:
            lines.append(f"   SQS requests per upload: {facts['sqs_requests'] / result.uploads:.2f}")
        lines.append(f"   worker metrics in CloudWatch: {json.dumps(facts['metrics'])}")
        for check in result.checks:
            verdict = (
                "PASS" if check.passed else ("FAIL, as expected" if result.variant == "incident" else "FAIL")
            )
            lines.append(f"   [{verdict}] {check.name}: {check.detail}")
    if len(runs) == 2:
        fixed, incident = runs
        lines.append("== side by side ==")
        lines.append(f"   {'':34} {'fixed':>12} {'incident':>12}")
        rows = [
            ("queue drained", "yes" if fixed.drained else "no", "yes" if incident.drained else "no"),
            (
                "max receive count seen",
                fixed.facts["max_receive_count_seen"],
                incident.facts["max_receive_count_seen"],
            ),
            ("messages handled", fixed.facts["messages_handled"], incident.facts["messages_handled"]),
            (
                "max index writes per file",
                max(fixed.facts["index_writes"].values()),
                max(incident.facts["index_writes"].values()),
            ),
            (
                "messages left in the queue",
                sum(fixed.facts["queue_left"].values()),
                sum(incident.facts["queue_left"].values()),
            ),
            (
                "in the DLQ",
                len(fixed.facts["dead_lettered"]),
                len(incident.facts["dead_lettered"]) if incident.facts["max_receive_count"] else "no DLQ",
            ),
        ]
        for label, left, right in rows:
            lines.append(f"   {label:34} {left!s:>12} {right!s:>12}")
    return "\n".join(lines)


def write_chart(runs: list[DrillRun], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, result in zip(axes[0], runs, strict=True):
        times = [sample[0] for sample in result.samples]
        axis.plot(times, [s[1] for s in result.samples], label="queue: visible")
        axis.plot(times, [s[2] for s in result.samples], label="queue: in flight")
        axis.plot(times, [s[3] for s in result.samples], label="DLQ")
        axis.set_title(f"{result.variant} configuration ({'drained' if result.drained else 'not drained'})")
        axis.set_xlabel("seconds since workers started")
        axis.set_ylabel("messages")
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.drill", description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=300, help="small files uploaded at once (default 300)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument(
        "--scale", type=float, default=DEFAULT_SCALE, help="factor for time values (default 6/900)"
    )
    parser.add_argument(
        "--time-limit", type=float, default=180, help="seconds before a run is stopped (default 180)"
    )
    parser.add_argument("--replay-incident", action="store_true", help="also run the pre-fix configuration")
    parser.add_argument(
        "--incident-seconds", type=float, default=20, help="how long the incident replay runs (default 20)"
    )
    parser.add_argument("--worker-module", default="worker", help="module the workers run (default: worker)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "drill", help="logs and chart")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    options = parser.parse_args(argv)
    try:
        stack = render_program(REPO_ROOT, "production")
    except ProgramError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options.output.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="logs-", dir=options.output))
    print(
        f"drill: {options.workers} workers, {options.burst} burst files, time scale {options.scale:.4f}",
        file=sys.stderr,
    )
    runs = [
        run(
            stack,
            "fixed",
            options.burst,
            options.workers,
            options.worker_module,
            options.scale,
            options.time_limit,
            log_dir,
        )
    ]
    if options.replay_incident:
        runs.append(
            run(
                stack,
                "incident",
                options.burst,
                options.workers,
                "sandbox.incident_worker",
                options.scale,
                options.incident_seconds,
                log_dir,
            )
        )
    chart = write_chart(runs, options.output / "drill.png")
    if options.json:
        print(
            json.dumps(
                {
                    "runs": [asdict(r) | {"passed": r.passed} for r in runs],
                    "chart": str(chart),
                    "logs": str(log_dir),
                },
                ensure_ascii=False,
                default=str,
            )
        )
    else:
        print(text_report(runs))
        print(f"chart: {chart}\nworker logs: {log_dir}")
    return 0 if runs[0].passed else 1


if __name__ == "__main__":
    sys.exit(main())
