"""The handler core both consumers share: one message body in, one `Verdict` out.

The EC2 worker (worker/consumer.py, a processor call in a child process per record) and the Lambda
handler (worker/lambda_handler.py, an in-process call per record) differ only in how one record is
processed; the body's shapes, the records handled one by one, how a call's end becomes an outcome
and how the records' verdicts make the message's are here, once (docs/worker.md, Outcomes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.errors import classify_exception
from worker.events import BodyKind, S3ObjectEvent, parse_body
from worker.outcomes import Outcome, Verdict, combine

__all__ = ["RESULT_OUTCOMES", "RecordHandler", "call_processor", "decide", "verdict_for"]

RecordHandler = Callable[[S3ObjectEvent], Verdict]
"""Processes one S3 object event and says how it ended."""

RESULT_OUTCOMES = {
    "processed": Outcome.PROCESSED,
    "gone": Outcome.OBJECT_GONE,
    "permanent": Outcome.PERMANENT_FAILURE,
    "transient": Outcome.TRANSIENT_FAILURE,
    "timed_out": Outcome.TIMED_OUT,
    "crashed": Outcome.TRANSIENT_FAILURE,
    "aborted": Outcome.INTERRUPTED,
    "fatal": Outcome.WORKER_FATAL,
}
"""How a processor call ended (worker/errors.py `classify_exception` kinds, plus the ones a parent
process decides: crashed, aborted) -> the record's outcome. Unknown kinds are transient."""


def verdict_for(kind: str, error_type: str = "", reason: str = "") -> Verdict:
    """The verdict of one processor call that ended as `kind`."""
    outcome = RESULT_OUTCOMES.get(kind, Outcome.TRANSIENT_FAILURE)
    if outcome is Outcome.PROCESSED:
        return Verdict(outcome)
    return Verdict(outcome, reason=reason, error_type=error_type)


def call_processor(processor: Callable[[S3ObjectEvent], Any], event: S3ObjectEvent) -> Verdict:
    """One in-process call, its exception classified exactly as the EC2 worker's child process does."""
    try:
        processor(event)
    except Exception as error:  # noqa: BLE001 - every way a call ends is a verdict
        return verdict_for(*classify_exception(error))
    return verdict_for("processed")


def decide(body: Any, handle_record: RecordHandler) -> tuple[Verdict, list[str]]:
    """The message's verdict and the keys it carried. A test event is deleted; a body or record that
    is not an S3 event is dead-lettered with the reason; the records are handled one by one, and a
    fatal or interrupted record stops the rest (they are not started)."""
    parsed = parse_body(body)
    if parsed.kind is BodyKind.TEST_EVENT:
        return Verdict(Outcome.TEST_EVENT), []
    if parsed.kind is BodyKind.NOT_AN_S3_EVENT:
        return Verdict(Outcome.NOT_AN_S3_EVENT, reason=parsed.reason, error_type="NotAnS3Event"), []
    verdicts = [
        Verdict(Outcome.NOT_AN_S3_EVENT, reason=bad.reason, error_type="NotAnS3Event").for_record(
            bad.position, ""
        )
        for bad in parsed.bad_records
    ]
    for position, event in zip(parsed.positions, parsed.events, strict=True):
        verdict = handle_record(event).for_record(position, event.key)
        verdicts.append(verdict)
        if verdict.outcome in (Outcome.WORKER_FATAL, Outcome.INTERRUPTED):
            break
    return combine(verdicts), [event.key for event in parsed.events]
