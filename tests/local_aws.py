"""Fixtures for a local AWS (moto server over HTTP) and a worker configured with test-sized waits.

Registered as a pytest plugin by the top-level conftest, so every group (worker, sandbox, audit, dlq)
shares one moto server per session.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from sandbox.local_aws import LocalPipeline, clients, create_pipeline, local_environment, moto_server
from worker.config import WorkerConfig
from worker.consumer import Consumer

_names = itertools.count()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        saved = {key: os.environ.get(key) for key in local_environment(endpoint)}
        os.environ.update(local_environment(endpoint))
        yield endpoint
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def aws(aws_endpoint):
    """(s3, sqs, cloudwatch) clients on the local endpoint."""
    return clients(aws_endpoint)


@pytest.fixture
def pipeline_factory(aws):
    s3, sqs, cloudwatch = aws

    def make(
        visibility_timeout: int = 30, max_receive_count: int | None = 3, notification_count: int = 1
    ) -> LocalPipeline:
        return create_pipeline(
            s3,
            sqs,
            f"t{next(_names)}-{os.getpid()}",
            visibility_timeout=visibility_timeout,
            max_receive_count=max_receive_count,
            notification_count=notification_count,
            cloudwatch=cloudwatch,
        )

    return make


@pytest.fixture
def marker_dir(tmp_path, monkeypatch):
    directory = tmp_path / "markers"
    directory.mkdir()
    monkeypatch.setenv("MARKER_DIR", str(directory))
    return directory


def worker_config(pipeline: LocalPipeline, **overrides) -> WorkerConfig:
    """A worker configured like production, with test-sized waits (seconds, not minutes)."""
    config = WorkerConfig(
        queue_url=pipeline.queue_url,
        processing_timeout_seconds=10,
        metric_namespace=f"Test/{pipeline.upload_bucket}",
        index_bucket=pipeline.index_bucket,
        index_prefix=pipeline.index_prefix,
        concurrency=4,
        receive_wait_seconds=1,
        shutdown_grace_seconds=5,
        metric_flush_seconds=0.5,
        retry_backoff_base_seconds=0,
    )
    return replace(config, **overrides)


@contextmanager
def running_consumer(aws, config: WorkerConfig, processor) -> Iterator[Consumer]:
    """A consumer in a thread of the test process; `processor` is a module-level function (or its
    `package.module:function` name): it runs in the worker's child processes."""
    s3, sqs, cloudwatch = aws
    consumer = Consumer(config, sqs=sqs, cloudwatch=cloudwatch, processor=processor, s3=s3)
    thread = threading.Thread(target=consumer.run, name="consumer-under-test", daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the consumer did not stop"
