"""Parse an SQS message body into the S3 object events it carries.

S3 URL-encodes object keys in event notifications (a space arrives as `+`, Japanese names
percent-encoded), so keys are decoded with `unquote_plus` here, once, and processors always see the
real key. `s3:TestEvent` (sent when a notification is configured) and bodies that are not S3 events
are recognised, so the consumer can delete or dead-letter them instead of looping.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import unquote_plus


@dataclass(frozen=True)
class S3ObjectEvent:
    """One object event: what a processor receives (contract 3)."""

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
class ParsedBody:
    kind: BodyKind
    events: tuple[S3ObjectEvent, ...] = ()
    reason: str = ""


def parse_body(body: str) -> ParsedBody:
    """Classify a message body; never raises (a bad body is a value, routed to the DLQ by the caller)."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as error:
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason=f"body is not JSON: {error}")
    if not isinstance(document, dict):
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason="body is JSON but not an object")
    if document.get("Event") == "s3:TestEvent":
        return ParsedBody(BodyKind.TEST_EVENT)
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        return ParsedBody(BodyKind.NOT_AN_S3_EVENT, reason="body has no Records list")
    events = []
    for position, record in enumerate(records):
        try:
            events.append(_object_event(record))
        except (KeyError, TypeError, ValueError) as error:
            return ParsedBody(
                BodyKind.NOT_AN_S3_EVENT, reason=f"record {position} is not an S3 object event: {error!r}"
            )
    return ParsedBody(BodyKind.OBJECT_EVENTS, events=tuple(events))


def _object_event(record: dict) -> S3ObjectEvent:
    if record.get("eventSource") != "aws:s3":
        raise ValueError(f"eventSource is {record.get('eventSource')!r}, not 'aws:s3'")
    s3 = record["s3"]
    obj = s3["object"]
    return S3ObjectEvent(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        size=int(obj.get("size", 0)),
        etag=str(obj.get("eTag", "")).strip('"'),
        event_name=str(record.get("eventName", "")),
        version_id=obj.get("versionId"),
        sequencer=obj.get("sequencer"),
    )
