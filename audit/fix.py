"""`--fix-notifications`: rewrite a bucket's notification configuration to the single declared one.

The only write the audit can make, and only behind its flag: the current configuration is saved to
a file first, the difference is printed, then the declared configuration replaces it.
"""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path
from typing import Any

from audit.declared import DeclaredStack
from audit.live_state import LiveState


def declared_configuration(declared: DeclaredStack, live: LiveState, bucket: str) -> dict[str, Any]:
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


def fix_notifications(s3: Any, declared: DeclaredStack, live: LiveState, backup_dir: Path) -> list[str]:
    """Returns what it did, one line per bucket (backup path and diff)."""
    report = []
    backup_dir.mkdir(parents=True, exist_ok=True)
    for bucket in declared.notifications:
        current = live.notifications.get(bucket, {})
        wanted = declared_configuration(declared, live, bucket)
        backup = backup_dir / f"{bucket}-notification-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
        backup.write_text(
            json.dumps(current, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        diff = "\n".join(
            difflib.unified_diff(
                json.dumps(current, indent=2, sort_keys=True, default=str).splitlines(),
                json.dumps(wanted, indent=2, sort_keys=True).splitlines(),
                fromfile=f"{bucket} (live, saved to {backup})",
                tofile=f"{bucket} (declared)",
                lineterm="",
            )
        )
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)
        report.append(
            f"rewrote the notification configuration of {bucket}; backup: {backup}\n{diff or '(no difference)'}"
        )
    return report
