"""`--fix-notifications`: rewrite a bucket's notification configuration to the single declared one.

The only write the audit can make, and only behind its flag. Each PutBucketNotificationConfiguration
replaces the whole configuration and makes S3 send an `s3:TestEvent` into the queue
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-enable-disable-notification-intro.html),
so nothing is written when the live configuration already is the declared one. Otherwise the
difference is shown; `dry_run` stops there; a write needs `confirmed` (the CLI's `--yes`, or an
answer at its prompt); the configuration that existed is saved first (a bucket with no notification
has nothing to save). A bucket or target queue that does not exist is reported, never guessed.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from audit.declared import DeclaredStack
from audit.live_state import LiveState

NOTIFICATION_KINDS = (
    "QueueConfigurations",
    "TopicConfigurations",
    "LambdaFunctionConfigurations",
    "EventBridgeConfiguration",
)

UNCHANGED, DRY_RUN, WRITTEN, NOT_CONFIRMED, CANNOT = (
    "unchanged",
    "dry-run",
    "written",
    "not-confirmed",
    "cannot-fix",
)


@dataclass
class FixResult:
    bucket: str
    action: str
    """UNCHANGED, DRY_RUN, WRITTEN, NOT_CONFIRMED or CANNOT."""
    message: str
    diff: str = ""
    backup: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return "\n".join(part for part in (self.message, self.diff) if part)


def declared_configuration(declared: DeclaredStack, live: LiveState, bucket: str) -> dict[str, Any]:
    """The declared notification with live queue ARNs; KeyError names a target queue that is missing."""
    configurations = []
    for position, entry in enumerate(declared.notifications[bucket]):
        rules = [
            {"Name": name, "Value": entry[key]}
            for name, key in (("prefix", "prefix"), ("suffix", "suffix"))
            if entry[key]
        ]
        configuration: dict[str, Any] = {
            "Id": f"{entry['queue']}-{position}",
            "QueueArn": live.queues[entry["queue"]]["QueueArn"],
            "Events": entry["events"],
        }
        if rules:
            configuration["Filter"] = {"Key": {"FilterRules": rules}}
        configurations.append(configuration)
    return {"QueueConfigurations": configurations}


def _meaning(configuration: dict[str, Any]) -> dict[str, Any]:
    """What a configuration does, without the Ids S3 or a person gave its entries, in a stable order."""

    def entry(item: dict[str, Any]) -> str:
        rules = sorted(
            (rule["Name"].lower(), rule["Value"])
            for rule in item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        )
        target = item.get("QueueArn") or item.get("TopicArn") or item.get("LambdaFunctionArn")
        return json.dumps([target, sorted(item.get("Events", [])), rules])

    meaning: dict[str, Any] = {
        kind: sorted(entry(item) for item in configuration.get(kind, []))
        for kind in NOTIFICATION_KINDS
        if kind != "EventBridgeConfiguration"
    }
    meaning["EventBridgeConfiguration"] = "EventBridgeConfiguration" in configuration
    return meaning


def has_configuration(configuration: dict[str, Any]) -> bool:
    """Whether a notification configuration holds anything worth a backup."""
    lists = ("QueueConfigurations", "TopicConfigurations", "LambdaFunctionConfigurations")
    return any(configuration.get(kind) for kind in lists) or "EventBridgeConfiguration" in configuration


def fix_notifications(
    s3: Any,
    declared: DeclaredStack,
    live: LiveState,
    backup_dir: Path,
    dry_run: bool = False,
    confirm: Callable[[str], bool] = lambda _bucket: False,
) -> list[FixResult]:
    """One result per declared notification; writes only when the live one differs and `confirm(bucket)`."""
    results = []
    for bucket in declared.notifications:
        current = live.notifications.get(bucket)
        if current is None:
            results.append(
                FixResult(
                    bucket,
                    CANNOT,
                    f"cannot fix the notification of bucket {bucket}: the bucket does not exist in {live.region}",
                )
            )
            continue
        gone = [
            entry["queue"] for entry in declared.notifications[bucket] if entry["queue"] not in live.queues
        ]
        if gone:
            results.append(
                FixResult(
                    bucket,
                    CANNOT,
                    f"cannot fix the notification of bucket {bucket}: its target queue {', '.join(gone)} "
                    f"does not exist in {live.region}",
                )
            )
            continue
        wanted = declared_configuration(declared, live, bucket)
        if _meaning(current) == _meaning(wanted):
            results.append(
                FixResult(
                    bucket,
                    UNCHANGED,
                    f"the notification of bucket {bucket} already is the declared one: nothing written",
                )
            )
            continue
        diff = "\n".join(
            difflib.unified_diff(
                json.dumps(current, indent=2, sort_keys=True, default=str).splitlines(),
                json.dumps(wanted, indent=2, sort_keys=True).splitlines(),
                fromfile=f"{bucket} (live)",
                tofile=f"{bucket} (declared)",
                lineterm="",
            )
        )
        if dry_run:
            results.append(
                FixResult(
                    bucket, DRY_RUN, f"dry run: the notification of bucket {bucket} would become:", diff
                )
            )
            continue
        if not confirm(bucket):
            results.append(
                FixResult(
                    bucket,
                    NOT_CONFIRMED,
                    f"not written: the notification of bucket {bucket} differs; pass --yes to write it "
                    "(--dry-run shows the difference only)",
                    diff,
                )
            )
            continue
        backup = None
        if has_configuration(current):
            backup_dir.mkdir(parents=True, exist_ok=True)
            path = backup_dir / f"{bucket}-notification-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
            path.write_text(
                json.dumps(current, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
            )
            backup = str(path)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
        saved = f"; backup: {backup}" if backup else "; there was no configuration to back up"
        results.append(
            FixResult(
                bucket,
                WRITTEN,
                f"rewrote the notification of bucket {bucket}{saved} (S3 sends an s3:TestEvent, which the worker deletes)",
                diff,
                backup,
            )
        )
    return results
