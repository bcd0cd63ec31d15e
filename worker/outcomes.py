"""What happens to a message, as a value: every message ends in exactly one outcome (docs/worker.md, Outcomes).

Processing produces a `Verdict` per record; `combine` makes the message's verdict, and
`MessageActions` (EC2) or the Lambda handler turns it into a delete, a release, or a copy to the
dead-letter queue whose message attributes both build with `dead_letter_attributes`. Each outcome
names the metrics it counts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
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
class RecordFailure:
    """One record of a message that did not succeed: where it is in the body's `Records` list (from
    0), its object key ("" for a record that is not an S3 event), and its own error."""

    position: int
    key: str
    error_type: str
    reason: str

    def as_dict(self, reason_chars: int = REASON_MAX_CHARS) -> dict[str, object]:
        return {
            "record": self.position,
            "key": self.key,
            "error_type": self.error_type,
            "reason": self.reason[:reason_chars],
        }


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    error_type: str = ""
    failed_records: int = 0
    """How many records of the message failed (set by `combine` for messages of several records)."""
    failures: tuple[RecordFailure, ...] = ()
    """Each failed record with its own reason (set by `handler_core.decide`)."""

    @property
    def action(self) -> Action:
        return self.outcome.action

    def for_record(self, position: int, key: str) -> Verdict:
        """This record's verdict, naming the record when it failed."""
        if self.action is Action.DELETE:
            return self
        failure = RecordFailure(position, key, self.error_type or self.outcome.label, self.reason)
        return replace(self, failures=(failure,))


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
    failures = tuple(
        sorted((f for verdict in failed for f in verdict.failures), key=lambda failure: failure.position)
    )
    reason = "; ".join(_describe(failure) for failure in failures) or "; ".join(
        v.reason or v.outcome.label for v in failed
    )
    return Verdict(
        chosen.outcome,
        reason=f"{len(failed)} of {len(verdicts)} records failed: {reason}",
        error_type=chosen.error_type,
        failed_records=len(failed),
        failures=failures,
    )


def _describe(failure: RecordFailure) -> str:
    named = f"Records[{failure.position}] {failure.key}" if failure.key else f"Records[{failure.position}]"
    return f"{named}: {failure.error_type}: {failure.reason}"


def handled_fields(
    message_id: str, keys: list[str], verdict: Verdict, action: Action, receive_count: int
) -> dict[str, object]:
    """The `message handled` log line's fields (both consumers): `action` is what was done, which on
    the last receive is a dead letter, not the release the outcome alone would mean; a message of
    several records lists each failed one with its own reason."""
    fields: dict[str, object] = {
        "message_id": message_id,
        "keys": keys,
        "outcome": verdict.outcome.label,
        "action": action.value,
        "reason": verdict.reason,
        "error_type": verdict.error_type,
        "receive_count": receive_count,
    }
    if verdict.failed_records:
        fields["failed_records"] = [failure.as_dict() for failure in verdict.failures]
    return fields


def last_receive_verdict(verdict: Verdict, receive_count: int, max_receive_count: int) -> Verdict:
    """A verdict that would release the message on its last receive: dead-letter it explicitly, saying
    so (released, SQS would redrive it on the next receive with no word of why)."""
    return Verdict(
        verdict.outcome,
        reason=f"last receive ({receive_count} of maxReceiveCount {max_receive_count}): {verdict.reason}",
        error_type=verdict.error_type or verdict.outcome.label,
        failed_records=verdict.failed_records,
        failures=verdict.failures,
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
        attributes["FailedRecordDetails"] = failed_record_details(verdict.failures)
    return {
        name: {"DataType": "String", "StringValue": sqs_text(value)} for name, value in attributes.items()
    }


FAILED_RECORD_DETAILS_MAX_BYTES = 16_384
"""The FailedRecordDetails attribute's budget. SQS allows 10 attributes a message, and every part of an
attribute counts toward the message's size limit with the body
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_MessageAttributeValue.html):
a dead letter carries 7, and this budget leaves the original body most of the room."""
DETAIL_REASON_CHARS = (300, 100, 0)
"""Per-record reasons shorten step by step until every failed record fits the budget."""


def failed_record_details(failures: tuple[RecordFailure, ...]) -> str:
    """JSON list of the failed records, each with its position, key, error type and reason, within
    FAILED_RECORD_DETAILS_MAX_BYTES: reasons are shortened first; records that still do not fit are
    counted in a last entry `{"more": N}`."""
    for reason_chars in DETAIL_REASON_CHARS:
        text = json.dumps([f.as_dict(reason_chars) for f in failures], ensure_ascii=False)
        if len(text.encode()) <= FAILED_RECORD_DETAILS_MAX_BYTES:
            return text
    entries: list[dict[str, object]] = []
    for count, failure in enumerate(failures):
        candidate = [*entries, failure.as_dict(0), {"more": len(failures) - count - 1}]
        if len(json.dumps(candidate, ensure_ascii=False).encode()) > FAILED_RECORD_DETAILS_MAX_BYTES:
            return json.dumps([*entries, {"more": len(failures) - count}], ensure_ascii=False)
        entries.append(failure.as_dict(0))
    return json.dumps(entries, ensure_ascii=False)


def fifo_send_arguments(dlq_url: str, message_id: str, group_id: str | None) -> dict[str, str]:
    """SendMessage arguments a FIFO DLQ requires (a FIFO queue's DLQ must be FIFO too): a group id
    (the original message's, else its id) and a deduplication id (its id), since SQS refuses a send
    without a group id and, without content-based deduplication, without a deduplication id
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)."""
    if not dlq_url.endswith(".fifo"):
        return {}
    return {"MessageGroupId": group_id or message_id, "MessageDeduplicationId": message_id}
