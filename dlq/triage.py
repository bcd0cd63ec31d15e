"""The triage step an operator runs on a poisoned file, as one function the drill can call at its end:
show the file's dead letter with its reason, fix the file, replay the dead letter, see it indexed."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from dlq.letters import DeadLetter
from dlq.moving import Ledger, move_one_at_a_time
from dlq.queues import Hold, open_queues, scan_visibility_seconds


@dataclass
class TriageResult:
    key: str
    shown: list[dict[str, Any]]
    """`show`'s rows for the file's dead letters, before the fix (key, size, receives, reason, ...)."""
    replayed: int
    index_key: str | None
    indexed: bool
    seconds: float
    lines: list[str] = field(default_factory=list)
    """What an operator would have seen, one line per step, for the drill to print."""


def replay_fixed(
    sqs: Any,
    s3: Any,
    *,
    dlq_url: str,
    queue_url: str,
    key: str,
    fix: Callable[[list[DeadLetter]], None],
    index_bucket: str | None = None,
    index_prefix: str = "",
    ledger_path: Path | None = None,
    timeout_seconds: float = 60.0,
) -> TriageResult:
    """Find the dead letters naming `key` (S3 object key, decoded), call `fix(letters)` (e.g. upload a
    good version of the file), move those letters back to `queue_url` one at a time, and, when
    `index_bucket` is given, wait until the index document `{index_prefix}{bucket}/{key}.json` was
    written after the replay. A worker must be consuming `queue_url`. Raises LookupError when no dead
    letter names `key`."""
    started = time.monotonic()
    queues = open_queues(sqs, dlq_url, queue_url)
    with Hold(sqs, dlq_url, scan_visibility_seconds(queues.dlq_depth)) as hold:
        letters = [letter for letter in hold.read_all() if letter.matches(key=key)]
    if not letters:
        raise LookupError(f"no dead letter in {dlq_url.rsplit('/', 1)[-1]} names {key!r}")
    lines = [
        f"dead letter {letter.message_id}: {letter.key} ({letter.size} bytes, {letter.receive_count} "
        f"receive(s)) {letter.error_type}: {letter.reason}"
        for letter in letters
    ]
    fix(letters)
    lines.append(f"fixed {key}")
    replay_started = time.time()
    with tempfile.TemporaryDirectory(prefix="dlq-triage-") as scratch:
        ledger = Ledger(ledger_path or Path(scratch) / "redrive.ledger")
        try:
            result = move_one_at_a_time(queues, ledger, key=key)
        finally:
            ledger.close()
    lines.append(f"replayed {result.moved} message(s) to {queue_url.rsplit('/', 1)[-1]}")
    index_key = None
    indexed = False
    if index_bucket is not None:
        bucket = letters[0].objects[0].bucket
        index_key = f"{index_prefix}{bucket}/{key}.json"
        deadline = time.monotonic() + timeout_seconds
        while not indexed and time.monotonic() < deadline:
            indexed = _written_since(s3, index_bucket, index_key, replay_started)
            if not indexed:
                time.sleep(0.2)
        lines.append(
            f"indexed s3://{index_bucket}/{index_key}"
            if indexed
            else f"NOT indexed within {timeout_seconds:.0f} s"
        )
    return TriageResult(
        key=key,
        shown=[letter.row() for letter in letters],
        replayed=result.moved,
        index_key=index_key,
        indexed=indexed,
        seconds=round(time.monotonic() - started, 2),
        lines=lines,
    )


def _written_since(s3: Any, bucket: str, key: str, since_epoch: float) -> bool:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return False
    # S3 keeps LastModified to the second: allow that much rounding.
    return head["LastModified"].timestamp() >= int(since_epoch) - 1
