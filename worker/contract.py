"""What every other part shares with the worker: environment names, the EnvironmentFile format,
metric and dimension names, log event names. One spelling here; the program, alarms, dashboard,
sandbox and audit import it (and nothing else from `worker/`).

This module imports nothing from the worker, so the Pulumi program can use it without boto3.
"""

from __future__ import annotations

from collections.abc import Mapping

# --- environment (docs/worker.md) ------------------------------------------------------------------
QUEUE_URL = "QUEUE_URL"
DLQ_URL = "DLQ_URL"
PROCESSING_TIMEOUT_SECONDS = "PROCESSING_TIMEOUT_SECONDS"
METRIC_NAMESPACE = "METRIC_NAMESPACE"
INDEX_BUCKET = "INDEX_BUCKET"
INDEX_PREFIX = "INDEX_PREFIX"
FILE_PROCESSOR = "FILE_PROCESSOR"
WORKER_CONCURRENCY = "WORKER_CONCURRENCY"
SHUTDOWN_GRACE_SECONDS = "SHUTDOWN_GRACE_SECONDS"
HEARTBEAT_SECONDS = "HEARTBEAT_SECONDS"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AUTOSCALING_GROUP_NAME = "AUTOSCALING_GROUP_NAME"
LIFECYCLE_HOOK_NAME = "LIFECYCLE_HOOK_NAME"
MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
"""Lambda mode: the declared maxReceiveCount; the handler trusts the queue's RedrivePolicy and logs an
error when this disagrees with it."""
RETRY_BACKOFF_BASE_SECONDS = "RETRY_BACKOFF_BASE_SECONDS"
WORKER_STATE_DIR = "WORKER_STATE_DIR"
"""Where the worker keeps its crash marker (worker/crash_marker.py); overrides RUNTIME_DIRECTORY."""
RUNTIME_DIRECTORY = "RUNTIME_DIRECTORY"
"""Set by systemd from the unit's RuntimeDirectory= (worker/file-processor.service)."""

ENVIRONMENT_FILE = "/etc/file-processor.env"
"""Where cloud-init writes the worker's environment; the systemd units read it (EnvironmentFile=)."""
ENVIRONMENT_HEREDOC = "ENVIRONMENT"
"""The heredoc delimiter the user data writes the EnvironmentFile with (see `environment_file_block`)."""

# --- metrics -----------------------------------------------------------------------------------------
DEFAULT_METRIC_NAMESPACE = "CISFileSearch/Worker"
QUEUE_DIMENSION = "QueueName"
"""The one dimension the worker publishes with: the work queue's name."""

PROCESSED = "MessagesProcessed"
FAILED = "MessageProcessingFailed"
DEAD_LETTERED = "MessagesDeadLettered"
DELETE_FAILED = "MessageDeleteFailed"
RELEASED = "MessagesReleased"
TEST_EVENTS = "TestEventsDeleted"
DUPLICATES = "DuplicateMessagesDeleted"
OBJECTS_GONE = "ObjectsGoneDeleted"
DURATION = "ProcessingDuration"
VISIBILITY_LOST = "MessageVisibilityLost"
"""A message the worker held lost its visibility (SQS may hand it to another consumer): an extension
or delete refused for an expired or invalid receipt handle, or an extension that came too late."""
SUCCESS_METRICS = (PROCESSED, FAILED, DEAD_LETTERED, DELETE_FAILED)
"""The counts the incident plan's success checks read (audit, drill)."""
PUBLISHED_METRICS = (
    PROCESSED,
    FAILED,
    DEAD_LETTERED,
    DELETE_FAILED,
    RELEASED,
    TEST_EVENTS,
    DUPLICATES,
    OBJECTS_GONE,
    DURATION,
    VISIBILITY_LOST,
)
"""Every metric the worker (and the Lambda handler, in EMF) publishes, one dimension set each."""
WORKER_CRASHED = "WorkerCrashed"
"""Published once at every start-up: 1 when the previous run of the service on this host ended without a
clean shutdown (systemd restarted it after a crash), else 0. The rollout audit sums it for the plan's
"no worker crashes" (docs/audit.md)."""

# --- SQS limits the worker and the stack both respect ---------------------------------------------
SQS_MAX_VISIBILITY_SECONDS = 43_200
"""12 hours: SQS's longest visibility timeout, and the longest a received message stays invisible,
counted from its receive (ChangeMessageVisibility,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html)."""
MAX_MESSAGE_RETENTION_SECONDS = 1_209_600
"""14 days, SQS's maximum retention (CreateQueue, MessageRetentionPeriod)."""


def environment_file(environment: Mapping[str, str]) -> str:
    """The EnvironmentFile's text: one KEY=value a line (systemd.exec, EnvironmentFile=)."""
    for key, value in environment.items():
        if "\n" in str(value) or "=" in key:
            raise ValueError(f"environment entry {key!r} cannot be written to an EnvironmentFile")
    return "\n".join(f"{key}={value}" for key, value in environment.items())


def environment_file_block(environment: Mapping[str, str]) -> str:
    """A shell heredoc that writes the EnvironmentFile (what the launch template's user data runs)."""
    return (
        f"cat > {ENVIRONMENT_FILE} <<'{ENVIRONMENT_HEREDOC}'\n"
        f"{environment_file(environment)}\n"
        f"{ENVIRONMENT_HEREDOC}\n"
    )


def environment_from_user_data(user_data: str) -> dict[str, str]:
    """The EnvironmentFile a launch template's user data (base64, as EC2 takes it) writes; {} if none."""
    import base64
    import binascii

    try:
        script = base64.b64decode(user_data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        script = user_data
    if f"<<'{ENVIRONMENT_HEREDOC}'\n" not in script:
        return {}
    return read_environment_file(script)


def read_environment_file(text: str) -> dict[str, str]:
    """Parse an EnvironmentFile's text, or a script holding `environment_file_block`'s heredoc."""
    opener = f"<<'{ENVIRONMENT_HEREDOC}'\n"
    if opener in text:
        text = text.split(opener, 1)[1].split(f"\n{ENVIRONMENT_HEREDOC}\n", 1)[0]
    entries: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        entries[key.strip()] = value
    return entries
