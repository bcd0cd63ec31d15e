"""A real local AWS for tests, the benchmarks and the sandbox: moto in server mode, on loopback only.

boto3 reaches it over real HTTP through `AWS_ENDPOINT_URL`, exactly as the worker reaches AWS on
EC2. `create_pipeline` builds the data plane of the stack (buckets, queue with its redrive policy,
DLQ, the bucket notification) with the same settings the Pulumi program declares.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from worker.contract import MAX_MESSAGE_RETENTION_SECONDS

LOOPBACK = "127.0.0.1"
REGION = "ap-northeast-1"
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
def moto_server_process() -> Iterator[str]:
    """moto's server in a process of its own (for measurements: it does not share our GIL)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
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
    upload_bucket: str
    index_bucket: str
    queue_url: str
    dlq_url: str
    upload_prefix: str

    def worker_environment(
        self, endpoint_url: str, processing_timeout_seconds: float, **extra: str
    ) -> dict[str, str]:
        """The worker's EnvironmentFile, as the launch template writes it (contract 2)."""
        return {
            **os.environ,
            **local_environment(endpoint_url),
            "QUEUE_URL": self.queue_url,
            "DLQ_URL": self.dlq_url,
            "PROCESSING_TIMEOUT_SECONDS": str(processing_timeout_seconds),
            "METRIC_NAMESPACE": "CISFileSearch/Worker",
            "INDEX_BUCKET": self.index_bucket,
            "INDEX_PREFIX": "documents/",
            **extra,
        }


def create_pipeline(
    s3: Any,
    sqs: Any,
    name: str,
    visibility_timeout: int,
    max_receive_count: int | None,
    upload_prefix: str = "uploads/",
    notification_count: int = 1,
    region: str = REGION,
) -> LocalPipeline:
    """Buckets, DLQ, queue (redrive when max_receive_count is set) and `notification_count` identical
    notification configurations (more than one reproduces the duplicate-notification incident)."""
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    upload_bucket, index_bucket = f"{name}-uploads", f"{name}-index"
    for bucket in (upload_bucket, index_bucket):
        s3.create_bucket(Bucket=bucket, **location)
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(MAX_MESSAGE_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"VisibilityTimeout": str(visibility_timeout), "ReceiveMessageWaitTimeSeconds": "1"}
    if max_receive_count is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
        )
    queue_url = sqs.create_queue(QueueName=f"{name}-queue", Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=upload_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": f"uploads-{position}",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": upload_prefix}]}},
                }
                for position in range(notification_count)
            ]
        },
    )
    return LocalPipeline(upload_bucket, index_bucket, queue_url, dlq_url, upload_prefix)


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
