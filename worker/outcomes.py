"""What happens to a message, as a value: every message ends in exactly one outcome (docs/worker.md, Outcomes).

Processing produces a `Verdict` per record; `combine` makes the message's verdict, and
`MessageActions` (EC2) or the Lambda handler turns it into a delete, a release, or a copy to the
dead-letter queue whose message attributes both build with `dead_letter_attributes`. Each outcome
names the metrics it counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from worker import metrics
from worker.errors import REASON_MAX_CHARS


class Action(Enum):
    DELETE = "delete"
    DEAD_LETTER = "dead_letter"
    RELEASE = "release"


class Outcome(Enum):
    PROCESSED = ("processed", Action.DELETE, (metrics.PROCESSED,))
    TEST_EVENT = ("test_event", Action.DELETE, (metrics.TEST_EVENTS,))
    DUPLICATE = ("duplicate", Action.DELETE, (metrics.DUPLICATES,))
    OBJECT_GONE = ("object_gone", Action.DELETE, (metrics.OBJECTS_GONE,))
    NOT_AN_S3_EVENT = ("not_an_s3_event", Action.DEAD_LETTER, (metrics.FAILED,))
    PERMANENT_FAILURE = ("permanent_failure", Action.DEAD_LETTER, (metrics.FAILED,))
    TRANSIENT_FAILURE = ("transient_failure", Action.RELEASE, (metrics.FAILED,))
    TIMED_OUT = ("timed_out", Action.RELEASE, (metrics.FAILED,))
    INTERRUPTED = ("interrupted", Action.RELEASE, ())
    """Shutdown stopped the job, or it never started: handed back at once, not counted as a failure."""
    WORKER_FATAL = ("worker_fatal", Action.RELEASE, ())
    """The worker cannot work (its index bucket is gone or denied): handed back at once; the worker stops."""

    def __init__(self, label: str, action: Action, counted_as: tuple[str, ...]) -> None:
        self.label = label
        self.action = action
        self.counted_as = counted_as

    @property
    def releases_at_once(self) -> bool:
        """Handed back with visibility 0 instead of a backoff: the file itself did not fail."""
        return self in (Outcome.INTERRUPTED, Outcome.WORKER_FATAL)


# When one message carries several records, the most cautious action wins: a record to retry keeps
# the whole message; otherwise a record that can never succeed sends it to the DLQ (its good records
# were indexed all the same, and the indexer skips them when the dead letter is redriven).
_PRECEDENCE = {Action.RELEASE: 2, Action.DEAD_LETTER: 1, Action.DELETE: 0}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    error_type: str = ""
    failed_records: int = 0
    """How many records of the message failed (set by `combine` for messages of several records)."""

    @property
    def action(self) -> Action:
        return self.outcome.action


def combine(verdicts: list[Verdict]) -> Verdict:
    """One verdict for a message from its records' verdicts; the reason names every failed record."""
    if len(verdicts) == 1:
        return verdicts[0]
    if any(v.outcome is Outcome.WORKER_FATAL for v in verdicts):
        return next(v for v in verdicts if v.outcome is Outcome.WORKER_FATAL)
    chosen = max(verdicts, key=lambda verdict: _PRECEDENCE[verdict.action])
    failed = [v for v in verdicts if v.action is not Action.DELETE]
    if not failed:
        processed = [v for v in verdicts if v.outcome is Outcome.PROCESSED]
        return processed[0] if processed else chosen
    reason = "; ".join(v.reason or v.outcome.label for v in failed)
    return Verdict(
        chosen.outcome,
        reason=f"{len(failed)} of {len(verdicts)} records failed: {reason}",
        error_type=chosen.error_type,
        failed_records=len(failed),
    )


def last_receive_verdict(verdict: Verdict, receive_count: int, max_receive_count: int) -> Verdict:
    """A verdict that would release the message on its last receive: dead-letter it explicitly, saying
    so (released, SQS would redrive it on the next receive with no word of why)."""
    return Verdict(
        verdict.outcome,
        reason=f"last receive ({receive_count} of maxReceiveCount {max_receive_count}): {verdict.reason}",
        error_type=verdict.error_type or verdict.outcome.label,
        failed_records=verdict.failed_records,
    )


_SQS_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters SQS refuses in a message body or string attribute (SendMessage: only #x9, #xA, #xD,
#x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF;
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)."""


def sqs_text(value: str) -> str:
    """`value` with the characters SQS refuses replaced by U+FFFD: an S3 key may hold control
    characters (URL-encoded in the event, decoded here), and a reason quoting it would make the
    dead letter's SendMessage fail, so the message could never be dead-lettered with its reason."""
    return _SQS_FORBIDDEN.sub("\ufffd", value)


def dead_letter_attributes(
    verdict: Verdict, message_id: str, receive_count: int, source_queue: str
) -> dict[str, dict[str, str]]:
    """The SendMessage `MessageAttributes` of a dead letter (docs/dlq.md: ErrorType and Reason;
    the dlq tools read the rest). `source_queue` is the work queue's name."""
    attributes = {
        "ErrorType": verdict.error_type or verdict.outcome.label,
        "Reason": (verdict.reason or verdict.outcome.label)[:REASON_MAX_CHARS],
        "OriginalMessageId": message_id,
        "ReceiveCount": str(receive_count),
        "SourceQueue": source_queue,
    }
    if verdict.failed_records:
        attributes["FailedRecords"] = str(verdict.failed_records)
    return {
        name: {"DataType": "String", "StringValue": sqs_text(value)} for name, value in attributes.items()
    }


def fifo_send_arguments(dlq_url: str, message_id: str, group_id: str | None) -> dict[str, str]:
    """SendMessage arguments a FIFO DLQ requires (a FIFO queue's DLQ must be FIFO too): a group id
    (the original message's, else its id) and a deduplication id (its id), since SQS refuses a send
    without a group id and, without content-based deduplication, without a deduplication id
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)."""
    if not dlq_url.endswith(".fifo"):
        return {}
    return {"MessageGroupId": group_id or message_id, "MessageDeduplicationId": message_id}
