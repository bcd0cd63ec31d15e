"""Parse an SQS message body into the S3 object events it carries. Never raises.

Three shapes arrive on the queue:
- an S3 event notification sent to SQS directly (`{"Records": [{"eventSource": "aws:s3", ...}]}`,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html);
- the same notification fanned out through SNS (`{"Type": "Notification", "Message": "<the S3 event
  as a JSON string>"}`; with raw message delivery the body is the S3 event itself);
- an EventBridge "Object Created" event from a rule whose target is the queue
  (`{"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {...}, "object": {...}}}`,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).

S3 URL-encodes object keys in notifications (a space arrives as `+`, Japanese names
percent-encoded), so keys are decoded with `unquote_plus` here, once, and processors always see the
real key. `s3:TestEvent` (sent when a notification is configured) and bodies that are not S3 events
are recognised, so the consumer can delete or dead-letter them instead of looping. Records are read
one by one: a bad record is reported with its position and does not hide the good ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3ObjectEvent:
    """One object event: what a processor receives (docs/worker.md)."""

    bucket: str
    key: str
    size: int
    etag: str
    event_name: str = "ObjectCreated:Put"
    version_id: str | None = None
    sequencer: str | None = None
    deadline: float = field(default=float("inf"), compare=False)
    """`time.monotonic()` by which processing must end (PROCESSING_TIMEOUT_SECONDS after it started)."""

    @property
    def identity(self) -> tuple[str, str, str]:
        """Equal for the same object event delivered twice (duplicate notifications, redelivery)."""
        return (self.bucket, self.key, self.sequencer or self.version_id or self.etag)

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()


class BodyKind(Enum):
    OBJECT_EVENTS = "object_events"
    TEST_EVENT = "test_event"
    NOT_AN_S3_EVENT = "not_an_s3_event"


@dataclass(frozen=True)
class BadRecord:
    position: int
    reason: str


@dataclass(frozen=True)
class ParsedBody:
    kind: BodyKind
    events: tuple[S3ObjectEvent, ...] = ()
    reason: str = ""
    bad_records: tuple[BadRecord, ...] = ()
    """Records of an OBJECT_EVENTS body that are not S3 object events (the others are in `events`)."""
    envelope: str = "s3"
    """How the event arrived: s3 (direct), sns, eventbridge."""
    positions: tuple[int, ...] = ()
    """Each event's index in the body's `Records` list (0 for an EventBridge event)."""


def parse_body(body: Any) -> ParsedBody:
    """Classify a message body; never raises (a bad body is a value, routed to the DLQ by the caller)."""
    try:
        return _parse(body)
    except Exception as error:  # noqa: BLE001 - the promise: parsing never raises
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason=f"body could not be read: {error!r}"[:1000])


def _parse(body: Any, envelope: str = "s3") -> ParsedBody:
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as error:
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason=f"body is not JSON: {error}", envelope=envelope)
    if not isinstance(document, dict):
        return ParsedBody(
            BodyKind.NOT_AN_S3_EVENT, reason="body is JSON but not an object", envelope=envelope
        )
    if document.get("Type") == "Notification" and "Message" in document and envelope == "s3":
        message = document["Message"]
        if not isinstance(message, str):
            return ParsedBody(
                BodyKind.NOT_AN_S3_EVENT,
                reason="SNS notification whose Message is not a string",
                envelope="sns",
            )
        return _parse(message, envelope="sns")
    if document.get("source") == "aws.s3" and "detail-type" in document:
        return _eventbridge(document)
    if document.get("Event") == "s3:TestEvent":
        return ParsedBody(BodyKind.TEST_EVENT, envelope=envelope)
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason="body has no Records list", envelope=envelope)
    events, bad, positions = [], [], []
    for position, record in enumerate(records):
        try:
            events.append(_object_event(record))
            positions.append(position)
        except Exception as error:  # noqa: BLE001 - one bad record must not hide the good ones
            bad.append(BadRecord(position, f"record {position} is not an S3 object event: {error!r}"[:500]))
    if not events:
        return ParsedBody(
            BodyKind.NOT_AN_S3_EVENT,
            reason="; ".join(record.reason for record in bad),
            bad_records=tuple(bad),
            envelope=envelope,
        )
    return ParsedBody(
        BodyKind.OBJECT_EVENTS,
        events=tuple(events),
        bad_records=tuple(bad),
        envelope=envelope,
        positions=tuple(positions),
    )


def _eventbridge(document: dict) -> ParsedBody:
    detail_type = document.get("detail-type")
    if detail_type != "Object Created":
        return ParsedBody(
            BodyKind.NOT_AN_S3_EVENT,
            reason=f"EventBridge event {detail_type!r} is not 'Object Created'",
            envelope="eventbridge",
        )
    try:
        detail = document["detail"]
        obj = detail["object"]
        event = S3ObjectEvent(
            bucket=_text(detail["bucket"]["name"], "bucket name"),
            key=unquote_plus(_text(obj["key"], "object key")),
            size=_size(obj.get("size", 0)),
            etag=str(obj.get("etag") or "").strip('"'),
            event_name=f"ObjectCreated:{detail.get('reason') or 'Put'}",
            version_id=_optional_text(obj.get("version-id")),
            sequencer=_optional_text(obj.get("sequencer")),
        )
    except Exception as error:  # noqa: BLE001
        return ParsedBody(
            BodyKind.NOT_AN_S3_EVENT,
            reason=f"EventBridge 'Object Created' event without a usable detail: {error!r}"[:1000],
            envelope="eventbridge",
        )
    return ParsedBody(BodyKind.OBJECT_EVENTS, events=(event,), envelope="eventbridge", positions=(0,))


def _object_event(record: Any) -> S3ObjectEvent:
    if not isinstance(record, dict):
        raise ValueError(f"record is {type(record).__name__}, not an object")
    if record.get("eventSource") != "aws:s3":
        raise ValueError(f"eventSource is {record.get('eventSource')!r}, not 'aws:s3'")
    s3 = record["s3"]
    obj = s3["object"]
    return S3ObjectEvent(
        bucket=_text(s3["bucket"]["name"], "bucket name"),
        key=unquote_plus(_text(obj["key"], "object key")),
        size=_size(obj.get("size", 0)),
        etag=str(obj.get("eTag") or "").strip('"'),
        event_name=str(record.get("eventName", "")),
        version_id=_optional_text(obj.get("versionId")),
        sequencer=_optional_text(obj.get("sequencer")),
    )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is {value!r}, not a non-empty string")
    return value


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"size is {value!r}, not a number")
    size = int(value)
    if size < 0:
        raise ValueError(f"size is negative ({size})")
    return size
