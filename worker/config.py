"""The worker's configuration, from environment variables (the systemd unit's EnvironmentFile).

Queue behaviour (visibility timeout, maxReceiveCount) is deliberately not configured here: the
worker reads it from the queue's own attributes at start-up, so there is no second copy to drift.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.contract import SQS_MAX_VISIBILITY_SECONDS
from worker.errors import ConfigurationError

DEFAULT_PROCESSOR = "worker.indexer:index_file"
DEFAULT_RETRY_BACKOFF_BASE_SECONDS = 15.0
"""First backoff after a transient failure, for both consumers (EC2 worker and Lambda handler)."""


ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    ("QUEUE_URL", "required", "the work queue; its VisibilityTimeout and RedrivePolicy are read from it"),
    ("PROCESSING_TIMEOUT_SECONDS", "required", "longest one processor call may run, 0.1 .. 43200"),
    ("METRIC_NAMESPACE", "required", "CloudWatch namespace (dimension QueueName)"),
    ("INDEX_BUCKET", "required", "where the built-in indexer writes its documents"),
    ("INDEX_PREFIX", '""', "key prefix of the documents (at most 512 bytes)"),
    ("DLQ_URL", "the redrive target", "optional; set and different from the queue's redrive target: refused"),
    ("FILE_PROCESSOR", DEFAULT_PROCESSOR, "package.module:function, run in each job's process group"),
    ("WORKER_CONCURRENCY", "4", "job slots (child processes), 1 .. 64"),
    ("PREFETCH_MESSAGES", "10", "messages held beyond the busy slots while jobs are short, 0 .. 100"),
    ("PREFETCH_MAX_WAIT_SECONDS", "10", "hold extra messages only if they would start this soon"),
    ("HEARTBEAT_SECONDS", "visibility / 3", "how often held messages get more time"),
    ("RECEIVE_WAIT_SECONDS", "20", "long-poll wait, 0 .. 20"),
    ("SHUTDOWN_GRACE_SECONDS", "60", "after SIGTERM, how long running jobs may finish"),
    ("METRIC_FLUSH_SECONDS", "60", "how often metrics are sent"),
    ("RETRY_BACKOFF_BASE_SECONDS", "15", "first backoff after a transient failure; doubles per receive"),
    ("ALLOW_NO_REDRIVE_POLICY", "false", "run on a queue without a redrive policy (loud warning)"),
    ("WORKER_STATE_DIR", "$RUNTIME_DIRECTORY", "crash marker's directory; unset: no WorkerCrashed metric"),
)
"""The environment contract (docs/worker.md, Configuration): `python -m worker --help` prints it."""


def environment_help() -> str:
    """`python -m worker --help`: the environment contract, exit statuses and signals."""
    width = max(len(name) for name, _, _ in ENVIRONMENT)
    rows = "\n".join(f"  {name:<{width}}  {meaning} [{default}]" for name, default, meaning in ENVIRONMENT)
    return (
        "usage: python -m worker\n\n"
        "The SQS consumer that indexes uploaded files. Configured only by environment variables\n"
        "(on EC2 the systemd unit's EnvironmentFile, /etc/file-processor.env):\n\n"
        f"{rows}\n\n"
        "boto3's own variables (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, credentials) pick the endpoint.\n"
        "SIGTERM or Ctrl-C: stop receiving, hand back buffered messages, finish or stop running jobs.\n"
        "Exit status: 0 stopped on a signal, 2 a start-up check failed, 3 stopped on a fatal error,\n"
        "75 AWS did not answer a start-up check (systemd restarts it).\n"
        "Reference: docs/worker.md\n"
    )


@dataclass(frozen=True)
class WorkerConfig:
    queue_url: str
    processing_timeout_seconds: float
    metric_namespace: str
    index_bucket: str
    index_prefix: str = ""
    file_processor: str = DEFAULT_PROCESSOR
    concurrency: int = 4
    receive_wait_seconds: int = 20
    shutdown_grace_seconds: float = 60.0
    metric_flush_seconds: float = 60.0
    retry_backoff_base_seconds: float = DEFAULT_RETRY_BACKOFF_BASE_SECONDS
    """First backoff after a transient failure; doubles with each receive, capped at the visibility timeout."""
    heartbeat_seconds: float | None = None
    """How often in-flight messages get more time; default a third of the queue's visibility timeout."""
    prefetch_messages: int = 10
    """Messages held beyond the busy slots (received, kept invisible by the heartbeat, waiting for a
    slot); only while recent jobs are short enough that they start within `prefetch_max_wait_seconds`."""
    prefetch_max_wait_seconds: float = 10.0
    allow_no_redrive: bool = False
    """Run on a queue without a redrive policy (loud warning): failures are then retried forever."""
    dlq_url: str | None = field(default=None, kw_only=True)
    """Optional: the queue's RedrivePolicy names the DLQ; when set, it must be that same queue."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        env = os.environ if environ is None else environ
        heartbeat = env_number(env, "HEARTBEAT_SECONDS", None, minimum=0.1)
        return cls(
            queue_url=_required(env, "QUEUE_URL"),
            dlq_url=env.get("DLQ_URL", "").strip() or None,
            processing_timeout_seconds=env_number(
                env,
                "PROCESSING_TIMEOUT_SECONDS",
                None,
                minimum=0.1,
                maximum=SQS_MAX_VISIBILITY_SECONDS,
                required=True,
            ),
            metric_namespace=_required(env, "METRIC_NAMESPACE"),
            index_bucket=_required(env, "INDEX_BUCKET"),
            index_prefix=env.get("INDEX_PREFIX", ""),
            file_processor=env.get("FILE_PROCESSOR") or DEFAULT_PROCESSOR,
            concurrency=int(env_number(env, "WORKER_CONCURRENCY", 4, minimum=1, maximum=64)),
            receive_wait_seconds=int(env_number(env, "RECEIVE_WAIT_SECONDS", 20, minimum=0, maximum=20)),
            shutdown_grace_seconds=env_number(env, "SHUTDOWN_GRACE_SECONDS", 60, minimum=0),
            metric_flush_seconds=env_number(env, "METRIC_FLUSH_SECONDS", 60, minimum=0.1),
            retry_backoff_base_seconds=env_number(
                env, "RETRY_BACKOFF_BASE_SECONDS", DEFAULT_RETRY_BACKOFF_BASE_SECONDS, minimum=0
            ),
            heartbeat_seconds=heartbeat,
            prefetch_messages=int(env_number(env, "PREFETCH_MESSAGES", 10, minimum=0, maximum=100)),
            prefetch_max_wait_seconds=env_number(env, "PREFETCH_MAX_WAIT_SECONDS", 10, minimum=0),
            allow_no_redrive=_flag(env, "ALLOW_NO_REDRIVE_POLICY"),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(
            f"{name} is not set: the systemd EnvironmentFile (/etc/file-processor.env) must set it"
        )
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigurationError(f"{name}={raw!r}: expected true or false")


def env_number(
    env: Mapping[str, str],
    name: str,
    default: float | None,
    minimum: float | None = None,
    maximum: float | None = None,
    required: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        if required:
            raise ConfigurationError(f"{name} is not set: give it in seconds, e.g. {name}=900")
        return default  # type: ignore[return-value]
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        allowed = f"{minimum if minimum is not None else '-inf'}..{maximum if maximum is not None else 'inf'}"
        raise ConfigurationError(f"{name}={raw!r} is outside the allowed range {allowed}")
    return value


def boto_config() -> Any:
    """botocore's standard retry mode (exponential backoff with jitter; throttling, 5xx and timeouts
    retried): no hand-written retry loops around single calls."""
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=50)
