"""A dead letter as an operator sees it: which files it names, why it died, when, and how often it was tried.

The worker dead-letters a message with the message attributes `ErrorType` and `Reason`
(docs/dlq.md); a message SQS moved by itself after `maxReceiveCount` receives carries none and gets a
group of its own. Bodies are S3 event notifications, direct, inside an SNS notification or in
EventBridge's shape; anything else is still shown, with no key.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

ERROR_TYPE = "ErrorType"
REASON = "Reason"
CARRIED_ID = "DlqMessageId"
"""Set on every message this tool sends back to the work queue: the DLQ message id it was copied from."""
NO_REASON_TYPE = "none"
NO_REASON = "redriven by SQS after maxReceiveCount, without a reason"
AGE_BUCKETS = ((3600, "< 1 h"), (86_400, "1 h - 1 d"), (7 * 86_400, "1 d - 7 d"), (float("inf"), ">= 7 d"))
KEY_PLACEHOLDER = "<key>"
PREFIX_DEPTH = 2
"""Key prefixes are grouped by their first two folders (`uploads/reports/`)."""


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    size: int | None
    event_time: str | None = None


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, Any]
    """As SQS returns them: name -> {"DataType", "StringValue"}."""
    attributes: dict[str, str]
    """SQS system attributes (SentTimestamp, ApproximateReceiveCount, ...)."""
    objects: tuple[ObjectRef, ...] = field(default=())

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DeadLetter:
        body = message.get("Body", "")
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message.get("ReceiptHandle", ""),
            body=body,
            message_attributes=dict(message.get("MessageAttributes") or {}),
            attributes=dict(message.get("Attributes") or {}),
            objects=objects_in(body),
        )

    def attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name)
        return value.get("StringValue") if isinstance(value, dict) else None

    @property
    def error_type(self) -> str:
        return self.attribute(ERROR_TYPE) or NO_REASON_TYPE

    @property
    def reason(self) -> str:
        return self.attribute(REASON) or NO_REASON

    @property
    def group(self) -> tuple[str, str]:
        """(error type, reason) with this message's own keys written `<key>`: the worker names the file in
        its reasons, and one group per file would hide that ten files failed the same way."""
        reason = self.reason
        for obj in self.objects:
            if obj.key:
                reason = reason.replace(obj.key, KEY_PLACEHOLDER)
        return (self.error_type, reason)

    @property
    def key(self) -> str:
        return self.objects[0].key if self.objects else ""

    @property
    def size(self) -> int | None:
        return self.objects[0].size if self.objects else None

    @property
    def receive_count(self) -> int:
        """Receives in the work queue: the worker records them (`ReceiveCount`); else SQS's own count."""
        recorded = _int(self.attribute("ReceiveCount"))
        return recorded if recorded is not None else _int(self.attributes.get("ApproximateReceiveCount")) or 0

    @property
    def sent_at(self) -> float:
        """When this message was sent (epoch seconds): when the worker dead-lettered it, or, for a
        message SQS redrove, its first enqueue time (SQS keeps it, and retention counts from it)."""
        return int(self.attributes.get("SentTimestamp", "0")) / 1000

    @property
    def first_seen(self) -> float:
        """The upload's event time when the body says it, else `sent_at`."""
        times = [_epoch(o.event_time) for o in self.objects if o.event_time]
        known = [t for t in times if t is not None]
        return min(known) if known else self.sent_at

    def matches(self, reason: str | None = None, prefix: str | None = None, key: str | None = None) -> bool:
        """`reason`: the error type exactly, or a part of the reason text (case-insensitive); `none` is
        the group SQS redrove without a reason. `prefix`/`key`: any object of the body."""
        if reason is not None:
            wanted = reason.casefold()
            if wanted == NO_REASON_TYPE:  # not also every reason that says "NoneType ..." or "nonexistent"
                if self.error_type != NO_REASON_TYPE:
                    return False
            elif wanted != self.error_type.casefold() and wanted not in self.reason.casefold():
                return False
        if prefix is not None and not any(o.key.startswith(prefix) for o in self.objects):
            return False
        if key is not None and not any(o.key == key for o in self.objects):
            return False
        return True

    def record(self) -> dict[str, Any]:
        """The export line: everything needed to inspect or resend the message later."""
        return {
            "messageId": self.message_id,
            "errorType": self.error_type,
            "reason": self.reason,
            "objects": [o.__dict__ for o in self.objects],
            "receiveCount": self.receive_count,
            "sentAt": iso(self.sent_at),
            "body": self.body,
            "messageAttributes": {name: _json_safe(value) for name, value in self.message_attributes.items()},
            "attributes": self.attributes,
        }

    def row(self) -> dict[str, Any]:
        """What `show` prints for one message."""
        return {
            "messageId": self.message_id,
            "key": self.key + (f" (+{len(self.objects) - 1} more)" if len(self.objects) > 1 else ""),
            "size": self.size,
            "receiveCount": self.receive_count,
            "errorType": self.error_type,
            "reason": self.reason,
            "firstSeen": iso(self.first_seen),
            "lastSeen": iso(self.sent_at),
        }


def objects_in(body: str) -> tuple[ObjectRef, ...]:
    """The objects an S3 event body names: `Records[].s3` (direct or inside SNS's `Message`), or
    EventBridge's `detail`. Keys in Records are URL-encoded by S3 (`+` for a space) and are decoded.
    Never raises: a body that is none of these names no object."""
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        return ()
    if isinstance(document, dict) and isinstance(document.get("Message"), str):  # SNS envelope
        try:
            document = json.loads(document["Message"])
        except ValueError:
            return ()
    if not isinstance(document, dict):
        return ()
    found: list[ObjectRef] = []
    for record in document.get("Records") or []:
        try:
            s3 = record["s3"]
            found.append(
                ObjectRef(
                    bucket=str(s3["bucket"]["name"]),
                    key=unquote_plus(str(s3["object"]["key"])),
                    size=_int(s3["object"].get("size")),
                    event_time=_str(record.get("eventTime")),
                )
            )
        except (KeyError, TypeError):
            continue
    detail = document.get("detail")
    if document.get("source") == "aws.s3" and isinstance(detail, dict):
        try:
            found.append(
                ObjectRef(
                    bucket=str(detail["bucket"]["name"]),
                    key=str(detail["object"]["key"]),
                    size=_int(detail["object"].get("size")),
                    event_time=_str(document.get("time")),
                )
            )
        except (KeyError, TypeError):
            pass
    return tuple(found)


def prefix_of(key: str, depth: int = PREFIX_DEPTH) -> str:
    folders = key.split("/")[:-1][:depth]
    return "".join(f"{folder}/" for folder in folders) if folders else "(top level)"


def age_bucket(age_seconds: float) -> str:
    return next(label for limit, label in AGE_BUCKETS if age_seconds < limit)


EXAMPLE_KEYS = 3
"""Object keys named per reason in a summary: enough to recognise the files, short enough to read."""


def summarize(letters: list[DeadLetter], now: float | None = None) -> dict[str, Any]:
    """Counts by (error type, reason), by key prefix and by age, with the oldest and newest."""
    now = time.time() if now is None else now
    by_reason: dict[tuple[str, str], int] = {}
    examples: dict[tuple[str, str], list[str]] = {}
    by_prefix: dict[str, int] = {}
    by_age = {label: 0 for _, label in AGE_BUCKETS}
    for letter in letters:
        by_reason[letter.group] = by_reason.get(letter.group, 0) + 1
        keys = examples.setdefault(letter.group, [])
        if letter.objects and len(keys) < EXAMPLE_KEYS and letter.key not in keys:
            keys.append(letter.key)
        prefix = prefix_of(letter.key) if letter.objects else "(not an S3 event)"
        by_prefix[prefix] = by_prefix.get(prefix, 0) + 1
        by_age[age_bucket(max(0.0, now - letter.sent_at))] += 1
    sent = sorted(letter.sent_at for letter in letters)
    return {
        "total": len(letters),
        "oldest": iso(sent[0]) if sent else None,
        "newest": iso(sent[-1]) if sent else None,
        "byReason": [
            {
                "errorType": error_type,
                "reason": reason,
                "count": count,
                "keys": sorted(examples[error_type, reason]),
            }
            for (error_type, reason), count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
        ],
        "byPrefix": dict(sorted(by_prefix.items(), key=lambda item: -item[1])),
        "byAge": {label: count for label, count in by_age.items() if count},
    }


def iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    """A timestamp field as text; a writer that put a number or an object there gets None, not a crash."""
    return value if isinstance(value, str) else None


def _json_safe(attribute: Any) -> Any:
    """A message attribute for JSON: a Binary value (bytes, as boto3 returns it) is written base64,
    the way the SQS API itself carries it."""
    if not isinstance(attribute, dict):
        return attribute

    def text(value: Any) -> Any:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        return [text(item) for item in value] if isinstance(value, list) else value

    return {name: text(value) for name, value in attribute.items()}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
