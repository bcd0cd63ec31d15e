"""The incident drill: `python -m sandbox.drill [--compute ec2|lambda|both] [--replay-incident] [--json]`.

Starts moto server on loopback, deploys the data plane of the production stack from the rendered
program (sandbox/data_plane.py), uploads a realistic mix (sandbox/drill_files.py), runs real worker
processes with the environment the launch template gives them (time values scaled down and stated),
and judges the run from what moto holds — queues, buckets, object versions, CloudWatch metrics —
not from what the workers say. `--replay-incident` runs the pre-fix configuration too (duplicate
notifications, 300 s visibility, no DLQ, a worker that never deletes), bounded in time, side by side.

`--compute` picks the fixed run's consumer (default both, side by side): `ec2` runs worker processes;
`lambda` runs worker/lambda_handler.py under sandbox/lambda_emulator.py, an EMULATION of the SQS event
source mapping (moto runs Lambda only with Docker), with the batch size, batching window, maximum
concurrency, function timeout and visibility timeout of the lambda stack (Pulumi.lambda.yaml), whose data
plane it deploys (sandbox/lambda_stack.py). Its verdicts come from moto's state, as the EC2 run's do.

A run is the list `STEPS`, each a function of the run's `DrillContext`: deploy, upload, work, read
the facts (sandbox/drill_facts.py), judge them (sandbox/drill_verdicts.py). A new step (a dead-letter
triage, say) is one function appended there; it finds the live endpoint and the pipeline in the
context and adds its lines to `context.result.notes`. The report is sandbox/drill_report.py.

Exit code: 0 when every success metric of each fixed run passes, 1 otherwise, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from preview.entrypoint import finite_number, run_command, whole_number
from preview.render import ProgramError, RenderedStack, render_program
from sandbox import drill_facts, drill_verdicts, variants
from sandbox.data_plane import DataPlane, deploy, scaled_seconds
from sandbox.drill_files import GONE, SLOW_FRACTION_OF_PROCESSING, DrillFile, upload_mix
from sandbox.drill_report import as_json, text_report, write_chart
from sandbox.drill_triage import triage_dead_letters
from sandbox.drill_verdicts import DrillRun
from sandbox.lambda_emulator import EventSourceMapping, LambdaSettings
from sandbox.lambda_stack import LambdaStackError, function_environment, lambda_settings, render_lambda_stack
from sandbox.local_aws import (
    REGION,
    LocalPipeline,
    clients,
    local_environment,
    moto_server,
    pipeline_of,
    queue_depth,
)
from worker import contract

__all__ = ["DEFAULT_SCALE", "STEPS", "DrillContext", "DrillOptions", "DrillRun", "main", "run"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCALE = 6 / 900
"""Production's 900 s become 6 s: the whole incident in seconds."""
INCIDENT_VISIBILITY_SECONDS = 300
"""The incident's visibility timeout (shorter than the 10-15 minutes large files take)."""
INCIDENT_NOTIFICATION_COPIES = 2
"""The incident's bucket notified the queue twice for every upload."""
SAMPLE_SECONDS = 0.25


def incident_variant(stack: RenderedStack) -> RenderedStack:
    """The pre-fix configuration: 300 s visibility, no redrive, every notification declared twice."""
    return variants.with_notifications_repeated(
        variants.with_work_queue(
            stack, visibility_timeout_seconds=INCIDENT_VISIBILITY_SECONDS, without_redrive=True
        ),
        INCIDENT_NOTIFICATION_COPIES,
    )


def lambda_variant(stack: RenderedStack, settings: LambdaSettings) -> RenderedStack:
    """The work queue with the lambda stack's visibility timeout (a no-op on the lambda stack itself)."""
    return variants.with_work_queue(stack, visibility_timeout_seconds=settings.visibility_timeout_seconds)


# --- one run, as a list of steps -------------------------------------------------------------------


@dataclass(frozen=True)
class DrillOptions:
    variant: str
    """Either "fixed" (the stack as declared) or "incident" (`incident_variant`)."""
    burst: int
    workers: int
    worker_module: str
    scale: float
    time_limit: float
    log_dir: Path
    progress: bool = True
    compute: str = "ec2"
    lambda_settings: LambdaSettings | None = None
    """The lambda run's settings as declared (the drill scales their time values)."""


@dataclass
class DrillContext:
    """What the steps of one run share: each reads what earlier steps left and adds its own."""

    stack: RenderedStack
    """The configuration deployed (the fixed stack, or the incident's variant)."""
    options: DrillOptions
    endpoint: str
    s3: Any
    sqs: Any
    cloudwatch: Any
    result: DrillRun
    plane: DataPlane | None = None
    pipeline: LocalPipeline | None = None
    redrive: dict[str, Any] | None = None
    """The work queue's redrive policy as deployed; None without one (the incident's queue)."""
    files: list[DrillFile] = field(default_factory=list)
    started_at: datetime | None = None
    worker_lines: list[dict[str, Any]] = field(default_factory=list)
    worker_environment: dict[str, str] = field(default_factory=dict)
    """The environment the workers ran with (the declared EnvironmentFile at the local endpoint)."""

    def start_workers(self, count: int, label: str) -> list[Any]:
        """More consumers like the run's own (used by later steps such as the triage): worker
        processes, or in a lambda run an emulated event source mapping of `count` concurrency."""
        if self.options.compute == "lambda":
            mapping = _event_source_mapping(self, self.options.log_dir / label, concurrency=count)
            mapping.start()
            return [mapping]
        processes, _ = _start_workers(
            self.options.worker_module, count, self.worker_environment, self.options.log_dir / label
        )
        return processes

    def stop_workers(self, consumers: list[Any]) -> None:
        mappings = [consumer for consumer in consumers if isinstance(consumer, EventSourceMapping)]
        for mapping in mappings:
            mapping.stop()
        _stop_workers([consumer for consumer in consumers if not isinstance(consumer, EventSourceMapping)])


Step = Callable[[DrillContext], None]


def deploy_data_plane(context: DrillContext) -> None:
    """The stack's data plane at the local endpoint, time values scaled (sandbox/data_plane.py)."""
    # Bucket policies stay out: their TLS-only deny would refuse the plain-HTTP local endpoint.
    context.plane = deploy(
        context.stack,
        context.s3,
        context.sqs,
        context.cloudwatch,
        REGION,
        context.options.scale,
        bucket_policies=False,
    )
    context.pipeline = pipeline_of(context.stack, context.plane)
    attributes = context.sqs.get_queue_attributes(
        QueueUrl=context.pipeline.queue_url, AttributeNames=["RedrivePolicy"]
    ).get("Attributes", {})
    context.redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else None


def upload_files(context: DrillContext) -> None:
    """The upload mix, then the files that vanish before any worker sees them are deleted."""
    pipeline = _pipeline(context)
    context.files = upload_mix(pipeline.upload_prefix, context.options.burst)
    context.result.uploads = len(context.files)
    for drill_file in context.files:
        context.s3.put_object(
            Bucket=pipeline.upload_bucket,
            Key=drill_file.key,
            Body=drill_file.body,
            ContentType=drill_file.content_type,
        )
    for drill_file in context.files:
        if drill_file.expected == GONE:
            context.s3.delete_object(Bucket=pipeline.upload_bucket, Key=drill_file.key)


def run_workers(context: DrillContext) -> None:
    """The run's consumers until the queue drains or the time limit: worker processes (ec2) or the
    handler under the emulated event source mapping (lambda)."""
    if context.options.compute == "lambda":
        run_function(context)
        return
    options = context.options
    assert context.plane is not None
    declared = context.plane.worker_environment
    environment = {
        **os.environ,
        **local_environment(context.endpoint),
        **declared,
        **_drill_environment(context),
        "RECEIVE_WAIT_SECONDS": "1",
        "METRIC_FLUSH_SECONDS": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    context.worker_environment = environment
    context.started_at = datetime.now(UTC)
    processes, logs = _start_workers(
        options.worker_module, options.workers, environment, options.log_dir / options.variant
    )
    try:
        _sample_until_drained(context)
    finally:
        _stop_workers(processes)
    context.worker_lines = _read_logs(logs)


def run_function(context: DrillContext) -> None:
    """The lambda run: worker/lambda_handler.py under the emulated event source mapping, with the
    function's declared environment (or, in a stack without a function, the worker's) at the endpoint."""
    assert context.plane is not None and context.pipeline is not None
    declared = {
        **_worker_to_function_environment(context.plane.worker_environment),
        **function_environment(context.stack),
    }
    if context.redrive:
        declared[contract.MAX_RECEIVE_COUNT] = str(context.redrive["maxReceiveCount"])
    context.worker_environment = {
        **os.environ,
        **local_environment(context.endpoint),
        **declared,
        **_drill_environment(context),
    }
    declared_run, scaled_run = context.options.lambda_settings, mapping_settings(context.options)
    context.plane.scaled.pop(contract.SHUTDOWN_GRACE_SECONDS, None)  # the EC2 worker's, not the function's
    context.plane.scaled["function timeout"] = (
        declared_run.function_timeout_seconds,
        scaled_run.function_timeout_seconds,
    )
    context.started_at = datetime.now(UTC)
    mapping = _event_source_mapping(context, context.options.log_dir / f"{context.options.variant}-lambda")
    mapping.start()
    try:
        _sample_until_drained(context)
    finally:
        mapping.stop()
    context.worker_lines = mapping.log_lines()
    stats, settings = mapping.stats, mapping.settings
    context.result.notes.append(
        f"emulated event source mapping (sandbox/lambda_emulator.py): batch size {settings.batch_size}, "
        f"window {settings.batching_window_seconds:g} s, maximum concurrency {settings.maximum_concurrency}, "
        f"function timeout {settings.function_timeout_seconds:g} s, visibility {settings.visibility_timeout_seconds} s; "
        f"{stats.invocations} invocations ({stats.cold_starts} cold starts, {stats.errors} errors, "
        f"{stats.timeouts} timeouts), at most {stats.max_concurrent} at once"
    )


def _worker_to_function_environment(worker: dict[str, str]) -> dict[str, str]:
    """The EC2 worker's EnvironmentFile keys a function has too (a stack without a function)."""
    keys = (contract.INDEX_BUCKET, contract.INDEX_PREFIX, contract.METRIC_NAMESPACE)
    return {key: worker[key] for key in keys if key in worker}


def _drill_environment(context: DrillContext) -> dict[str, str]:
    """What the drill adds for either consumer: its processor, the slow file's time, a scaled backoff."""
    options = context.options
    processing = _processing_seconds(context)
    return {
        contract.FILE_PROCESSOR: "sandbox.drill_processor:process",
        "DRILL_SLOW_SECONDS": str(SLOW_FRACTION_OF_PROCESSING * processing),
        contract.RETRY_BACKOFF_BASE_SECONDS: str(
            scaled_seconds(15, options.scale) if options.scale < 1 else 15
        ),
    }


def _processing_seconds(context: DrillContext) -> float:
    """The processing timeout as the drill runs it: the worker's (scaled), else the function timeout."""
    assert context.plane is not None
    declared = context.plane.worker_environment.get(contract.PROCESSING_TIMEOUT_SECONDS)
    if declared is not None:
        return float(declared)
    if context.options.lambda_settings is None:
        raise ValueError(
            "the stack declares no PROCESSING_TIMEOUT_SECONDS and the run has no lambda settings"
        )
    return context.options.lambda_settings.scaled(context.options.scale).function_timeout_seconds


def mapping_settings(options: DrillOptions) -> LambdaSettings:
    """The lambda run's settings with the drill's time scale applied."""
    if options.lambda_settings is None:
        raise ValueError("a lambda run needs the lambda stack's settings (DrillOptions.lambda_settings)")
    return options.lambda_settings.scaled(options.scale)


def _event_source_mapping(
    context: DrillContext, log_dir: Path, concurrency: int | None = None
) -> EventSourceMapping:
    settings = mapping_settings(context.options)
    if concurrency is not None:
        settings = dataclasses.replace(settings, maximum_concurrency=concurrency)
    pipeline = _pipeline(context)
    queue_arn = context.sqs.get_queue_attributes(QueueUrl=pipeline.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return EventSourceMapping(
        context.sqs,
        context.cloudwatch,
        pipeline.queue_url,
        queue_arn,
        settings,
        context.worker_environment,
        log_dir,
        poll_wait_seconds=1,
    )


def _sample_until_drained(context: DrillContext) -> None:
    """Sample the queue depth until the queue drains or the time limit."""
    options, pipeline, result = context.options, _pipeline(context), context.result
    dlq_url = pipeline.dlq_url if context.redrive else None
    started = time.monotonic()
    last_progress = 0.0
    while time.monotonic() - started < options.time_limit:
        visible, in_flight = queue_depth(context.sqs, pipeline.queue_url)
        dead = queue_depth(context.sqs, dlq_url)[0] if dlq_url else 0
        elapsed = time.monotonic() - started
        result.samples.append((round(elapsed, 2), visible, in_flight, dead))
        if options.progress and elapsed - last_progress >= 1:
            last_progress = elapsed
            print(
                f"  [{result.label}] {elapsed:5.1f} s  queue {visible:4d} visible {in_flight:3d} in flight  DLQ {dead}",
                file=sys.stderr,
                flush=True,
            )
        if visible == 0 and in_flight == 0 and elapsed > 1:
            result.drained = True
            break
        time.sleep(SAMPLE_SECONDS)
    result.seconds = round(time.monotonic() - started, 2)


def read_facts(context: DrillContext) -> None:
    """What moto holds now (sandbox/drill_facts.py), with the time values the run used."""
    assert context.plane is not None and context.started_at is not None
    facts = drill_facts.collect(
        context.files,
        _pipeline(context),
        context.redrive,
        context.s3,
        context.sqs,
        context.cloudwatch,
        context.started_at,
        context.worker_lines,
    )
    facts.scaled = {
        key: {"declared": declared, "drill": used} for key, (declared, used) in context.plane.scaled.items()
    }
    context.result.facts = facts


def judge_run(context: DrillContext) -> None:
    """The incident plan's success metrics (sandbox/drill_verdicts.py)."""
    result = context.result
    assert result.facts is not None
    result.checks = drill_verdicts.judge(result.facts, context.files, result.drained, result.seconds)


STEPS: list[Step] = [deploy_data_plane, upload_files, run_workers, read_facts, judge_run, triage_dead_letters]
"""One run, in order; each step runs while the local endpoint is up. Append a step here."""


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
    steps: Sequence[Step] = STEPS,
    compute: str = "ec2",
    lambda_run: LambdaSettings | None = None,
) -> DrillRun:
    """One run of the drill on a fresh moto server: `variant` "fixed" or "incident"; `compute` "ec2"
    or "lambda" (then `lambda_run` gives the event source mapping's and function's settings)."""
    if compute == "lambda" and lambda_run is None:
        raise ValueError(
            "compute='lambda' needs lambda_run: the lambda stack's settings (sandbox/lambda_stack.py)"
        )
    options = DrillOptions(
        variant, burst, workers, worker_module, scale, time_limit, log_dir, progress, compute, lambda_run
    )
    deployed = incident_variant(stack) if variant == "incident" else stack
    if compute == "lambda" and lambda_run is not None:
        deployed = lambda_variant(deployed, lambda_run)
    result = DrillRun(variant=variant, uploads=0, workers=workers, compute=compute)
    with moto_server() as endpoint:
        s3, sqs, cloudwatch = clients(endpoint)
        context = DrillContext(deployed, options, endpoint, s3, sqs, cloudwatch, result)
        for step in steps:
            step(context)
    return result


def _pipeline(context: DrillContext) -> LocalPipeline:
    if context.pipeline is None:
        raise RuntimeError("the data plane is not deployed yet: deploy_data_plane runs first")
    return context.pipeline


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


# --- the command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.drill", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--burst",
        type=whole_number(1, 10_000),
        default=300,
        help="small files uploaded at once (1..10000, default 300)",
    )
    parser.add_argument(
        "--workers", type=whole_number(1, 64), default=3, help="worker processes (1..64, default 3)"
    )
    parser.add_argument(
        "--scale",
        type=finite_number(0, 1, low_exclusive=True),
        default=DEFAULT_SCALE,
        help="factor for time values (above 0, at most 1; default 6/900)",
    )
    parser.add_argument(
        "--time-limit",
        type=finite_number(0, 3600, low_exclusive=True),
        default=180,
        help="seconds before a run is stopped (above 0, at most 3600; default 180)",
    )
    parser.add_argument("--replay-incident", action="store_true", help="also run the pre-fix configuration")
    parser.add_argument(
        "--incident-seconds",
        type=finite_number(0, 3600, low_exclusive=True),
        default=20,
        help="how long the incident replay runs (above 0, at most 3600; default 20)",
    )
    parser.add_argument("--worker-module", default="worker", help="module the workers run (default: worker)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "drill", help="logs and chart")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--compute",
        choices=("ec2", "lambda", "both"),
        default="both",
        help="the fixed run's consumer: EC2 workers, the Lambda handler under the emulated event source "
        "mapping, or both side by side (default both)",
    )
    parser.add_argument(
        "--lambda-settings",
        metavar="JSON",
        help="the lambda run's settings as a JSON object of LambdaSettings fields, instead of the lambda "
        "stack's (a what-if run on production's data plane)",
    )
    options = parser.parse_args(argv)
    computes = ["ec2", "lambda"] if options.compute == "both" else [options.compute]
    try:
        stack = render_program(REPO_ROOT, "production")
        stacks = {"ec2": stack}
        lambda_run = None
        if "lambda" in computes:
            stacks["lambda"], lambda_run = _lambda_run(stack, options.lambda_settings)
    except (ProgramError, LambdaStackError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    options.output.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="logs-", dir=options.output))
    print(
        f"drill: {options.workers} workers / emulated lambda, {options.burst} burst files, "
        f"time scale {options.scale:.4f}, compute {' and '.join(computes)}",
        file=sys.stderr,
    )
    runs = []
    for compute in computes:
        started = time.monotonic()
        runs.append(
            run(
                stacks[compute],
                "fixed",
                options.burst,
                options.workers,
                options.worker_module,
                options.scale,
                options.time_limit,
                log_dir,
                compute=compute,
                lambda_run=lambda_run,
            )
        )
        runs[-1].notes.append(
            f"wall time of the whole run (deploy to verdicts): {time.monotonic() - started:.1f} s"
        )
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
        print(json.dumps(as_json(runs, chart, log_dir), ensure_ascii=False, default=str))
    else:
        print(text_report(runs))
        print(f"chart: {_shown(chart)}\nworker logs: {_shown(log_dir)}")
    return 0 if all(result.passed for result in runs if result.variant == "fixed") else 1


def _lambda_run(production: RenderedStack, explicit: str | None) -> tuple[RenderedStack, LambdaSettings]:
    """The stack the lambda run deploys and its settings: the lambda stack (Pulumi.lambda.yaml) as
    declared, or, with --lambda-settings (a what-if), production's data plane with those settings."""
    if explicit is None:
        stack = render_lambda_stack(REPO_ROOT)
        return stack, lambda_settings(stack)
    try:
        return production, LambdaSettings(**json.loads(explicit))
    except (ValueError, TypeError) as error:
        raise LambdaStackError(
            f"--lambda-settings {explicit!r}: {error}; expected a JSON object with "
            f"{', '.join(field.name for field in dataclasses.fields(LambdaSettings))}"
        ) from None


def _shown(path: Path) -> Path:
    """A path relative to the working directory when it is under it (reports carry no machine paths)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


if __name__ == "__main__":
    run_command(main, "python -m sandbox.drill")
