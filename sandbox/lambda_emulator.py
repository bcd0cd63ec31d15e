"""An EMULATION of Lambda's SQS event source mapping (ESM), in-process against moto server.

moto runs Lambda functions only with Docker, which these machines do not have, so the drill's lambda
run cannot use a real (or moto's) function. This module reproduces the documented behaviour the
pipeline relies on, and states what it leaves out. Its verdicts still come from moto's state.

Reproduced (AWS Lambda Developer Guide):
- Pollers receive with long polling and build batches of up to `batch_size` messages, waiting up to
  the batching window when one is set (with-sqs.html, services-sqs-parameters.html: BatchSize,
  MaximumBatchingWindowInSeconds).
- At most `maximum_concurrency` invocations at once (services-sqs-scaling.html, ScalingConfig).
- An invocation runs the handler in an execution environment: a child process
  (sandbox/lambda_runtime.py) that is reused while it works, whose init (import, clients) is not
  counted against the function timeout, and that is killed when an invocation passes the timeout.
- A function error or timeout fails the whole batch: nothing is deleted, and the messages become
  visible again when the queue's visibility timeout runs out (services-sqs-errorhandling.html;
  services-sqs-configure.html: "all messages in that batch return to the queue").
- With ReportBatchItemFailures, the messages not listed in `batchItemFailures` are deleted; the
  listed ones are left to SQS's visibility timeout and redrive policy. An empty or null list is a
  complete success; an entry whose `itemIdentifier` is missing, empty, or not a message of the
  batch makes the whole batch a failure (services-sqs-errorhandling.html, "Success and failure
  conditions").
- The event is the documented SQS event (`Records` with messageId, receiptHandle, body, attributes
  with ApproximateReceiveCount, messageAttributes, md5OfBody, eventSource, eventSourceARN, awsRegion).
- The function's stdout goes to a log stream per execution environment; EMF lines in it become
  CloudWatch metrics (here: PutMetricData to moto), as CloudWatch Logs extracts them
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

Not reproduced: the poller ramp (five concurrent batches at first, up to 300 more per minute) and the
scale-down after errors (the backoff in services-sqs-errorhandling.html) - here all pollers start at
once and keep polling; throttling and reserved concurrency; the 6 MB payload limit of a batch; the
10-second init limit (30 s here, a busy test machine starts Python slowly); FIFO queues; filter
criteria; provisioned pollers; Lambda's own metrics (Errors, Throttles, Duration) - the emulator
counts invocations, errors and timeouts in `EmulatorStats` instead.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("sandbox.lambda_emulator")

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLER = "worker.lambda_handler:handler"
SQS_MAX_RECEIVE = 10
INIT_TIMEOUT_SECONDS = 30.0
DEFAULT_POLL_WAIT_SECONDS = 20
"""SQS's longest long poll; the drill polls shorter so that stopping is quick."""


@dataclass(frozen=True)
class LambdaSettings:
    """The ESM's and the function's settings the emulation follows (the rendered lambda stack's)."""

    batch_size: int
    batching_window_seconds: float
    maximum_concurrency: int
    function_timeout_seconds: float
    visibility_timeout_seconds: int
    """The work queue's (lambda mode: >= 6x the function timeout)."""

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.maximum_concurrency < 1 or self.function_timeout_seconds <= 0:
            raise ValueError(f"LambdaSettings out of range: {self}")
        if self.batch_size > SQS_MAX_RECEIVE and self.batching_window_seconds < 1:
            raise ValueError(
                f"batch size {self.batch_size} > 10 needs a batching window of at least 1 s "
                "(services-sqs-parameters.html); set lambdaBatchingWindowSeconds"
            )

    def scaled(self, scale: float) -> LambdaSettings:
        """Time values multiplied by `scale` (the drill's), whole seconds, at least 1."""

        def seconds(value: float) -> int:
            return max(1, round(value * scale))

        return LambdaSettings(
            batch_size=self.batch_size,
            batching_window_seconds=seconds(self.batching_window_seconds)
            if self.batching_window_seconds
            else 0,
            maximum_concurrency=self.maximum_concurrency,
            function_timeout_seconds=seconds(self.function_timeout_seconds),
            visibility_timeout_seconds=seconds(self.visibility_timeout_seconds),
        )


@dataclass
class EmulatorStats:
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    messages_deleted: int = 0
    messages_failed: int = 0
    """Listed in batchItemFailures, or in a batch that failed as a whole."""
    max_concurrent: int = 0
    metric_lines: int = 0
    durations_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Invocation:
    kind: str
    """ok, error or timeout."""
    response: Any = None
    error: str = ""


class ExecutionEnvironment:
    """One child process running sandbox/lambda_runtime.py; stdout lines go to `on_line`."""

    def __init__(self, name: str, environment: dict[str, str], on_line: Any, log_path: Path) -> None:
        self.name = name
        self._environment = environment
        self._on_line = on_line
        self._log_path = log_path
        self._process: subprocess.Popen | None = None
        self._control: int | None = None
        self._reader: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.lambda_runtime", HANDLER, str(write_fd)],
            cwd=REPO_ROOT,
            env=self._environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            text=True,
            encoding="utf-8",
        )
        os.close(write_fd)
        self._control = read_fd
        self._buffer = b""
        self._reader = threading.Thread(target=self._read_stdout, name=f"{self.name}-logs", daemon=True)
        self._reader.start()
        ready = self._answer(INIT_TIMEOUT_SECONDS)
        if not ready or not ready.get("ready"):
            self.stop()
            raise RuntimeError(f"{self.name}: init failed: {ready or 'no answer in time'}")

    def invoke(self, event: dict[str, Any], timeout_seconds: float) -> Invocation:
        assert self._process is not None and self._process.stdin is not None
        request = {"event": event, "timeout_seconds": timeout_seconds}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = self._answer(timeout_seconds)
        if answer is None:
            self.kill()
            return Invocation("timeout", error=f"Task timed out after {timeout_seconds:.2f} seconds")
        if "error" in answer:
            return Invocation("error", error=answer["error"])
        return Invocation("ok", response=answer.get("response"))

    def _answer(self, timeout_seconds: float) -> dict[str, Any] | None:
        """The next line on the control channel, or None when none came within the time (or EOF)."""
        assert self._control is not None
        deadline = time.monotonic() + timeout_seconds
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self._control], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(self._control, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self._log_path.open("a", encoding="utf-8") as log_stream:
            for line in self._process.stdout:
                log_stream.write(line)
                log_stream.flush()
                self._on_line(line)

    def kill(self) -> None:
        """The environment is discarded (what Lambda does after a timeout)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        self.stop()

    def stop(self) -> None:
        if self._process is not None:
            if self._process.stdin is not None and not self._process.stdin.closed:
                try:
                    self._process.stdin.close()
                except OSError:
                    pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self._control is not None:
            os.close(self._control)
            self._control = None
        self._process = None


class EventSourceMapping:
    """Polls `queue_url` and invokes the handler, as an SQS event source mapping with
    ReportBatchItemFailures does (see the module docstring for what is and is not emulated)."""

    def __init__(
        self,
        sqs: Any,
        cloudwatch: Any,
        queue_url: str,
        queue_arn: str,
        settings: LambdaSettings,
        environment: dict[str, str],
        log_dir: Path,
        function_name: str = "file-processor",
        poll_wait_seconds: int = DEFAULT_POLL_WAIT_SECONDS,
    ) -> None:
        self._sqs = sqs
        self._cloudwatch = cloudwatch
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.settings = settings
        self._environment = {
            **environment,
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(settings.function_timeout_seconds),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.log_dir = log_dir
        self.function_name = function_name
        self._poll_wait_seconds = poll_wait_seconds
        self.stats = EmulatorStats()
        self._lock = threading.Lock()
        self._running = 0
        self._stopping = threading.Event()
        self._pollers: list[threading.Thread] = []
        self._environments: list[ExecutionEnvironment] = []

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for number in range(self.settings.maximum_concurrency):
            poller = threading.Thread(
                target=self._poll, args=(number,), name=f"esm-poller-{number}", daemon=True
            )
            poller.start()
            self._pollers.append(poller)

    def stop(self) -> None:
        """Stop polling, let running invocations end (each within the function timeout), stop the
        environments; every EMF line they printed is forwarded before this returns."""
        self._stopping.set()
        for poller in self._pollers:
            poller.join()
        for environment in self._environments:
            environment.stop()

    def __enter__(self) -> EventSourceMapping:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines of every environment (the function's CloudWatch Logs)."""
        lines = []
        for path in sorted(self.log_dir.glob(f"{self.function_name}-*.log")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    document = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(document, dict) and "_aws" not in document:
                    lines.append(document)
        return lines

    # --- one poller: batch, invoke, acknowledge -------------------------------------------------

    def _poll(self, number: int) -> None:
        environment = ExecutionEnvironment(
            f"{self.function_name}-{number}",
            self._environment,
            self._forward_metrics,
            self.log_dir / f"{self.function_name}-{number}.log",
        )
        self._environments.append(environment)
        while not self._stopping.is_set():
            try:
                messages = self._gather()
            except Exception as error:  # noqa: BLE001 - the ESM keeps polling after an SQS error
                log.warning("receive failed: %s", error)
                self._stopping.wait(1)
                continue
            if not messages:
                continue
            if not environment.started:
                with self._lock:
                    self.stats.cold_starts += 1
                try:
                    environment.start()
                except RuntimeError as error:  # an init error fails the invocation, as in Lambda
                    log.warning("init failed; the batch returns after the visibility timeout: %s", error)
                    with self._lock:
                        self.stats.invocations += 1
                        self.stats.errors += 1
                        self.stats.messages_failed += len(messages)
                    continue
            self._invoke(environment, messages)

    def _gather(self) -> list[dict[str, Any]]:
        """Up to batch_size messages: one long poll without a window; with a window, receive until the
        batch is full or the window has passed since the first message arrived."""
        batch: dict[str, dict[str, Any]] = {}
        window = self.settings.batching_window_seconds
        first_at: float | None = None
        while not self._stopping.is_set() and len(batch) < self.settings.batch_size:
            wait = self._poll_wait_seconds
            if first_at is not None:
                left = window - (time.monotonic() - first_at)
                if left <= 0:
                    break
                wait = min(wait, max(0, int(left)))
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, self.settings.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            for message in received:
                batch[message["MessageId"]] = message
            if batch and first_at is None:
                first_at = time.monotonic()
            if batch and not window:
                break
            if not received and batch and wait == 0:
                break
        return list(batch.values())

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        region = self.queue_arn.split(":")[3]
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m.get("Body", ""),
                    "attributes": dict(m.get("Attributes", {})),
                    "messageAttributes": {
                        name: {
                            "stringValue": value.get("StringValue"),
                            "dataType": value.get("DataType", "String"),
                            "stringListValues": [],
                            "binaryListValues": [],
                        }
                        for name, value in m.get("MessageAttributes", {}).items()
                    },
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": region,
                }
                for m in messages
            ]
        }

    def _invoke(self, environment: ExecutionEnvironment, messages: list[dict[str, Any]]) -> None:
        with self._lock:
            self._running += 1
            self.stats.invocations += 1
            self.stats.max_concurrent = max(self.stats.max_concurrent, self._running)
        started = time.monotonic()
        try:
            result = environment.invoke(self._event(messages), self.settings.function_timeout_seconds)
        finally:
            with self._lock:
                self._running -= 1
                self.stats.durations_ms.append((time.monotonic() - started) * 1000)
        ids = {m["MessageId"] for m in messages}
        failed = self._failed_ids(result, ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted = self._delete(done)
        with self._lock:
            if result.kind == "timeout":
                self.stats.timeouts += 1
            elif result.kind == "error":
                self.stats.errors += 1
            self.stats.messages_deleted += deleted
            self.stats.messages_failed += len(failed)
        if result.kind != "ok":
            log.warning(
                "invocation failed: the whole batch returns after the visibility timeout",
                extra={"kind": result.kind, "error": result.error, "messages": len(messages)},
            )

    @staticmethod
    def _failed_ids(result: Invocation, ids: set[str]) -> set[str]:
        """The messages left to SQS: the listed ones, or all when the invocation or response failed."""
        if result.kind != "ok":
            return set(ids)
        response = result.response
        if response is None or response == {}:
            return set()
        if not isinstance(response, dict):
            return set(ids)
        items = response.get("batchItemFailures")
        if items is None:
            return set()
        if not isinstance(items, list):
            return set(ids)
        failed = set()
        for item in items:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or not identifier or identifier not in ids:
                return set(ids)  # an invalid entry fails the whole batch
            failed.add(identifier)
        return failed

    def _delete(self, messages: list[dict[str, Any]]) -> int:
        deleted = 0
        for start in range(0, len(messages), SQS_MAX_RECEIVE):
            chunk = messages[start : start + SQS_MAX_RECEIVE]
            response = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
            deleted += len(response.get("Successful", []))
        return deleted

    # --- CloudWatch Logs' part: EMF lines become metrics ------------------------------------------

    def _forward_metrics(self, line: str) -> None:
        data = emf_metric_data(line)
        if not data:
            return
        with self._lock:
            self.stats.metric_lines += 1
        for namespace, metric_data in data:
            try:
                self._cloudwatch.put_metric_data(Namespace=namespace, MetricData=metric_data)
            except Exception as error:  # noqa: BLE001 - a lost datapoint shows as missing data
                log.warning("EMF extraction failed: %s", error)


def emf_metric_data(line: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """PutMetricData arguments for one log line, if it is an EMF document: for each directive, each
    dimension set and each metric, the value (a number) or the values (an array, as statistics)."""
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, TypeError):
        return []
    if not isinstance(document, dict) or not isinstance(document.get("_aws"), dict):
        return []
    metadata = document["_aws"]
    timestamp = datetime.fromtimestamp(metadata.get("Timestamp", time.time() * 1000) / 1000, UTC)
    out = []
    for directive in metadata.get("CloudWatchMetrics", []):
        data = []
        for dimension_set in directive.get("Dimensions", [[]]):
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in directive.get("Metrics", []):
                value = document.get(metric["Name"])
                if value is None:
                    continue
                datum: dict[str, Any] = {
                    "MetricName": metric["Name"],
                    "Dimensions": dimensions,
                    "Timestamp": timestamp,
                    "Unit": metric.get("Unit", "None"),
                }
                if isinstance(value, list):
                    if not value:
                        continue
                    datum["StatisticValues"] = {
                        "SampleCount": float(len(value)),
                        "Sum": float(sum(value)),
                        "Minimum": float(min(value)),
                        "Maximum": float(max(value)),
                    }
                else:
                    datum["Value"] = float(value)
                data.append(datum)
        if data:
            out.append((directive["Namespace"], data))
    return out
