"""The exceptions of the processor contract (docs/worker.md) and how every other exception is
classified: permanent (dead-letter at once), transient (retry with backoff), fatal to the worker.

S3 error codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
(`NoSuchBucket`, `AccessDenied`, `KeyTooLongError`, `SlowDown`, `InternalError`, ...). A HEAD request
has no error body, so botocore reports its HTTP status ("404", "403") as the code.
"""

from __future__ import annotations


class PermanentError(Exception):
    """A file that can never succeed: the message goes to the dead-letter queue at once, with the reason."""


class ObjectGone(Exception):
    """The object no longer exists (NoSuchKey): nothing to index; the message is deleted with a warning."""


class WorkerFatalError(Exception):
    """The worker itself cannot work (its own index bucket is gone or denied): it stops and hands its
    messages back at once instead of dead-lettering the whole queue one message at a time."""


class ProcessingTimedOut(Exception):
    """The processor ran past PROCESSING_TIMEOUT_SECONDS; treated as a transient failure."""


class ConfigurationError(Exception):
    """The worker's environment is incomplete or invalid; the message names the variable and the fix."""


class ServiceUnavailable(Exception):
    """A start-up check got no answer from AWS after botocore's own retries (HTTP 5xx, throttling, a
    timeout, no connection): the settings may well be right, so the worker exits with a status that
    systemd restarts (75, EX_TEMPFAIL), not the configuration status that it never restarts."""


MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
"""The upload is gone: delete the message with a warning."""
PERMANENT_S3_CODES = frozenset(
    {
        "NoSuchBucket",
        "KeyTooLongError",
        "AccessDenied",
        "403",
        "Forbidden",
        "AllAccessDisabled",
        "InvalidBucketName",
        "InvalidObjectState",
        "InvalidArgument",
        "AccountProblem",
    }
)
"""The upload can never be read by this worker, however often it retries."""

REASON_MAX_CHARS = 1000


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "") or "")
    return ""


def classify_exception(error: BaseException) -> tuple[str, str, str]:
    """(kind, error type, reason) of an exception a processor raised; kind is one of
    permanent, gone, fatal, timed_out, transient. Anything not known to be permanent is transient."""
    reason = (str(error) or type(error).__name__)[:REASON_MAX_CHARS]
    if isinstance(error, PermanentError):
        return "permanent", type(error).__name__, reason
    if isinstance(error, ObjectGone):
        return "gone", type(error).__name__, reason
    if isinstance(error, WorkerFatalError):
        return "fatal", type(error).__name__, reason
    if isinstance(error, ProcessingTimedOut):
        return "timed_out", "ProcessingTimedOut", reason
    code = error_code(error)
    if code in MISSING_OBJECT_CODES:
        return "gone", code, reason
    if code in PERMANENT_S3_CODES:
        return "permanent", code, reason
    return "transient", code or type(error).__name__, reason
