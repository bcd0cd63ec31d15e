"""A real local AWS for tests, the benchmarks and the sandbox: moto in server mode, on loopback only.

boto3 reaches it over real HTTP through `AWS_ENDPOINT_URL`, exactly as the worker reaches AWS on
EC2. `create_pipeline` deploys the repository's rendered stack there (through sandbox/data_plane.py,
the sandbox's one deployment path) under names of its own, with test-sized waits.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from preview.render import RenderedStack, render_program
from sandbox import variants
from sandbox.data_plane import DataPlane, deploy
from sandbox.moto_sqs import serialise_receives
from worker import contract

LOOPBACK = "127.0.0.1"
REGION = "ap-northeast-1"
REPO_ROOT = Path(__file__).resolve().parent.parent
PIPELINE_STACK = "production"
"""The stack `create_pipeline` deploys (its settings, with test-sized waits)."""
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def local_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """The environment variables that point boto3 (and so the worker) at the local endpoint."""
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's server on a free loopback port; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    serialise_receives()  # one receive takes a message, as in SQS (sandbox/moto_sqs.py)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's state lives in the process, not in the server: start every server empty.
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
    ).close()
    try:
        yield endpoint
    finally:
        server.stop()


@contextmanager
def moto_server_process(module: str = "moto.server") -> Iterator[str]:
    """moto's server in a process of its own (for measurements: it does not share our GIL).
    `module` is run with `python -m` and takes moto.server's `-H`/`-p` (bench/moto_server.py)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", module, "-H", LOOPBACK, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{LOOPBACK}:{port}"
    try:
        wait_until(lambda: _answers(endpoint), 30, message=f"moto server on {endpoint}")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
            return True
    except OSError:
        return False


def client(endpoint_url: str, service: str, region: str = REGION) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    return session.client(service, endpoint_url=endpoint_url)


def clients(endpoint_url: str, region: str = REGION) -> tuple[Any, Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    return tuple(session.client(name, endpoint_url=endpoint_url) for name in ("s3", "sqs", "cloudwatch"))  # type: ignore[return-value]


@dataclass(frozen=True)
class LocalPipeline:
    """Where a deployed pipeline is: its buckets, queues and the worker's declared settings."""

    upload_bucket: str
    index_bucket: str
    queue_url: str
    dlq_url: str
    upload_prefix: str
    index_prefix: str = ""
    metric_namespace: str = contract.DEFAULT_METRIC_NAMESPACE

    def worker_environment(
        self, endpoint_url: str, processing_timeout_seconds: float, **extra: str
    ) -> dict[str, str]:
        """The worker's EnvironmentFile, as the launch template writes it (docs/worker.md)."""
        return {
            **os.environ,
            **local_environment(endpoint_url),
            contract.QUEUE_URL: self.queue_url,
            contract.DLQ_URL: self.dlq_url,
            contract.PROCESSING_TIMEOUT_SECONDS: str(processing_timeout_seconds),
            contract.METRIC_NAMESPACE: self.metric_namespace,
            contract.INDEX_BUCKET: self.index_bucket,
            contract.INDEX_PREFIX: self.index_prefix,
            **extra,
        }


def pipeline_of(stack: RenderedStack, plane: DataPlane) -> LocalPipeline:
    """The deployed pipeline's places: the notified bucket and prefix, and the worker's environment."""
    notification = stack.of_type("aws:s3/bucketNotification:BucketNotification")[0].inputs
    environment = plane.worker_environment
    return LocalPipeline(
        upload_bucket=notification["bucket"],
        index_bucket=environment[contract.INDEX_BUCKET],
        queue_url=environment[contract.QUEUE_URL],
        dlq_url=environment[contract.DLQ_URL],
        upload_prefix=notification["queues"][0].get("filterPrefix", ""),
        index_prefix=environment.get(contract.INDEX_PREFIX, ""),
        metric_namespace=environment.get(contract.METRIC_NAMESPACE, contract.DEFAULT_METRIC_NAMESPACE),
    )


_rendered: dict[str, RenderedStack] = {}
_render_lock = threading.Lock()


def rendered_stack(stack: str = PIPELINE_STACK) -> RenderedStack:
    """The repository's program rendered for `stack`, once per process (rendering takes seconds)."""
    with _render_lock:
        if stack not in _rendered:
            _rendered[stack] = render_program(REPO_ROOT, stack)
        return _rendered[stack]


def create_pipeline(
    s3: Any,
    sqs: Any,
    name: str,
    visibility_timeout: int,
    max_receive_count: int | None,
    notification_count: int = 1,
    region: str = REGION,
    cloudwatch: Any = None,
    receive_wait_seconds: int = 1,
) -> LocalPipeline:
    """The repository's stack, deployed under names starting with `name`, with a test-sized work
    queue: `visibility_timeout`, `max_receive_count` (None: no redrive, the incident's queue), a
    `receive_wait_seconds` long poll, and each notification declared `notification_count` times
    (more than one reproduces the duplicate-notification incident). Everything else is as rendered.
    """
    stack = variants.with_notifications_repeated(
        variants.with_work_queue(
            variants.renamed(rendered_stack(), name),
            visibility_timeout_seconds=visibility_timeout,
            receive_wait_seconds=receive_wait_seconds,
            max_receive_count=max_receive_count,
            without_redrive=max_receive_count is None,
        ),
        notification_count,
    )
    if cloudwatch is None:
        cloudwatch = client(sqs.meta.endpoint_url, "cloudwatch", region)
    # Bucket policies stay out: their TLS-only deny would refuse uploads over the plain-HTTP endpoint.
    plane = deploy(stack, s3, sqs, cloudwatch, region, bucket_policies=False)
    return pipeline_of(stack, plane)


def queue_depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_until(condition: Any, timeout: float, interval: float = 0.1, message: str = "condition") -> Any:
    """Poll `condition()` until it returns a truthy value; raise TimeoutError naming `message`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
