"""Move dead letters back to the work queue: all of them with SQS's own move task, or a filtered few one
at a time, idempotently across interruptions.

One at a time means: send a copy to the work queue, then delete the original from the DLQ. A process
killed between the two would leave both, and a naive rerun would send the copy again. So every step is
written to a ledger file (fsync'ed) before the next one starts: `sending`, `sent`, `deleted`, keyed by
the DLQ message id. A rerun deletes a `sent` message without sending it again. The copy also carries
the original id as the message attribute `DlqMessageId`, so any copy can be traced to its dead letter.
The one window the ledger cannot close is inside the SendMessage call itself (killed after SQS stored
the copy, before the answer was recorded): such an entry stays `sending` and is sent again on the
rerun (at least once, never lost); the worker's indexer treats the second copy as a duplicate
(same ETag and sequencer) and does not index it twice.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from dlq.letters import CARRIED_ID, DeadLetter
from dlq.queues import DlqError, Hold, Queues, describe, is_permission_error, move_visibility_seconds

MAX_MOVE_RATE = 500
"""StartMessageMoveTask's MaxNumberOfMessagesPerSecond is at most 500."""
MOVE_TASK_POLL_SECONDS = 5.0
FIFO_DEFAULT_GROUP = "dlq-redrive"
"""The group of a copy whose dead letter names none (it cannot, in a FIFO DLQ; kept for safety)."""
MOVE_TASK_DONE = {"COMPLETED", "CANCELLED", "FAILED"}
MOVE_TASK_MISSING = {
    "InvalidAction",
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "UnknownOperationException",
    "NotImplemented",
}

after_send: Callable[[DeadLetter], None] = lambda letter: None  # noqa: E731
"""Called after a copy is sent and recorded, before the original is deleted: the point where an
interruption is most likely to duplicate. Tests set it to kill the process there."""


class Ledger:
    """Append-only JSON lines: {"id": DLQ message id, "state": sending|unsent|sent|deleted[, "copy": id]}
    (`unsent`: SendMessage was refused, so nothing was stored and the next run sends as if new)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.states: dict[str, str] = {}
        try:  # before anything is received: a ledger that cannot be written must stop the move here
            path.open("a", encoding="utf-8").close()
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise DlqError(
                f"ledger {path}: cannot write it ({error.strerror}); pass --ledger FILE in a writable "
                "directory (keep the same FILE to resume an interrupted move); nothing changed"
            ) from None
        except UnicodeDecodeError:
            raise DlqError(
                f"ledger {path}: not UTF-8 JSON lines, so not a ledger of `python -m dlq redrive`; pass "
                "--ledger with a new FILE, or the one the interrupted move wrote; nothing changed"
            ) from None
        if text:
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                    self.states[entry["id"]] = entry["state"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: the step before it still holds
        self._handle: IO[str] | None = None

    def write(self, message_id: str, state: str, **extra: str) -> None:
        if self._handle is None:
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps({"id": message_id, "state": state, **extra}) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.states[message_id] = state

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Progress:
    """A progress bar on stderr for long moves: redrawn in place on a terminal, a line every 10 %
    otherwise; with no known total (a filtered move) a running count. Silent below `min_total`."""

    def __init__(
        self, total: int | None, label: str, stream: IO[str] | None = None, min_total: int = 20
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.min_total = min_total
        self.done = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_step = -1
        self._drawn = False

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if self.total is not None:
            if self.total < self.min_total:
                return
            fraction = min(1.0, self.done / self.total)
            line = f"{self.label} [{'#' * int(fraction * 30):<30}] {self.done}/{self.total}"
            step = int(fraction * 10)
        else:
            line = f"{self.label}: {self.done} message(s)"
            step = self.done // self.min_total
        if self._tty:
            self.stream.write("\r" + line)
            self.stream.flush()
            self._drawn = True
        elif step > self._last_step and (self.total is not None or step > 0):
            self._last_step = step
            self.stream.write(line + "\n")

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False


@dataclass
class MoveResult:
    moved: int = 0
    resumed: int = 0
    """Sent by an earlier, interrupted run: deleted now without sending again."""
    resent: int = 0
    """Interrupted inside SendMessage by an earlier run: sent again (at least once)."""
    kept: int = 0
    """Held but not chosen (other reasons or prefixes, or beyond --max): handed back at once."""
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    """Ctrl-C (SIGINT) asked it to stop: it finished the message in hand and stopped there."""


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While a move runs, a first Ctrl-C (SIGINT) only asks it to stop after the message in hand: a
    KeyboardInterrupt between SendMessage's answer and the ledger's `sent` would leave `sending`, and the
    rerun would send that copy again. A second Ctrl-C interrupts at once, as usual. Yields `asked()`."""
    asked = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield asked.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        asked.set()
        signal.signal(signal.SIGINT, previous)
        print(
            "\ndlq: interrupted: stopping after the message in hand (Ctrl-C again to stop at once)",
            file=sys.stderr,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield asked.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def select(
    letters: list[DeadLetter], reason: str | None, prefix: str | None, limit: int | None
) -> list[DeadLetter]:
    chosen = [letter for letter in letters if letter.matches(reason=reason, prefix=prefix)]
    return chosen[:limit] if limit is not None else chosen


def move_one_at_a_time(
    queues: Queues,
    ledger: Ledger,
    reason: str | None = None,
    prefix: str | None = None,
    key: str | None = None,
    limit: int | None = None,
    rate: float | None = None,
    progress: Progress | None = None,
) -> MoveResult:
    """Send each chosen dead letter to the work queue, then delete it from the DLQ (see the module doc).
    Messages not chosen are held until the run ends (so it does not read them twice), then released."""
    queue_url, _ = queues.require_queue()
    sqs = queues.sqs
    result = MoveResult()
    pause = 1.0 / rate if rate else 0.0
    with (
        stop_on_interrupt() as interrupted,
        Hold(sqs, queues.dlq_url, move_visibility_seconds(queues.dlq_depth, rate)) as hold,
    ):
        for batch in hold.batches():
            for letter in batch:
                if limit is not None and result.moved >= limit:
                    break
                if interrupted():
                    result.interrupted = True
                    break
                if not letter.matches(reason=reason, prefix=prefix, key=key):
                    continue
                started = time.monotonic()
                try:
                    # the newest receipt handle: a message read twice in a long run has a new one
                    _move(sqs, queue_url, queues.dlq_url, hold.letters[letter.message_id], ledger, result)
                except ClientError as error:
                    if is_permission_error(error):  # every other message would fail the same way
                        denied = describe(error, "move messages", queue_url)
                        raise DlqError(f"{denied}; {ledger.path} records any copy already sent") from None
                    result.failed.append(f"{letter.message_id}: {error}")
                    continue
                except BotoCoreError as error:
                    result.failed.append(f"{letter.message_id}: {type(error).__name__}: {error}")
                    continue
                hold.settle(letter.message_id)
                result.moved += 1
                if progress is not None:
                    progress.update(result.moved)
                if pause:
                    time.sleep(max(0.0, pause - (time.monotonic() - started)))
            if (limit is not None and result.moved >= limit) or result.interrupted:
                break
            if interrupted():
                result.interrupted = True
                break
        result.kept = len([held for held in hold.letters if held not in hold.settled])
    if progress is not None:
        progress.close()
    return result


def _move(
    sqs: Any, queue_url: str, dlq_url: str, letter: DeadLetter, ledger: Ledger, result: MoveResult
) -> None:
    state = ledger.states.get(letter.message_id)
    if state == "unsent":
        state = None
    if state in ("sent", "deleted"):  # deleted, yet here again: that delete did not take effect
        result.resumed += 1
    else:
        if state == "sending":
            result.resent += 1
        ledger.write(letter.message_id, "sending")
        try:
            sent = sqs.send_message(**send_request(queue_url, letter))
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) < 500:
                ledger.write(letter.message_id, "unsent")  # refused: SQS stored nothing
            raise
        ledger.write(letter.message_id, "sent", copy=sent.get("MessageId", ""))
        after_send(letter)
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
    ledger.write(letter.message_id, "deleted")


def send_request(queue_url: str, letter: DeadLetter) -> dict[str, Any]:
    """SendMessage's arguments for the copy. A FIFO queue requires a MessageGroupId (the dead letter's
    own group, kept so its order holds) and, without content-based deduplication, a
    MessageDeduplicationId: the DLQ message id, so a copy sent again within SQS's 5-minute
    deduplication interval (a rerun after an interruption inside SendMessage) is not delivered twice.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    """
    request: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": letter.body,
        "MessageAttributes": {CARRIED_ID: {"DataType": "String", "StringValue": letter.message_id}},
    }
    if queue_url.rstrip("/").endswith(".fifo"):
        request["MessageGroupId"] = letter.attributes.get("MessageGroupId") or FIFO_DEFAULT_GROUP
        request["MessageDeduplicationId"] = letter.message_id
    return request


def _active_task(sqs: Any, dlq_arn: str) -> dict[str, Any] | None:
    """A RUNNING (or CANCELLING) move task of this DLQ, if the endpoint can list them."""
    try:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
    except (ClientError, BotoCoreError):
        return None
    return next((t for t in tasks if t.get("Status") in ("RUNNING", "CANCELLING")), None)


def move_task_available(queues: Queues) -> bool:
    """Whether the endpoint answers ListMessageMoveTasks for this DLQ, asked without moving anything: an
    endpoint that does not know the move-task API (moto 5.2) answers neither it nor StartMessageMoveTask,
    so a dry run can name the method the real run will use."""
    try:
        queues.sqs.list_message_move_tasks(SourceArn=queues.dlq_arn, MaxResults=1)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return not (code in MOVE_TASK_MISSING or status >= 500)
    except BotoCoreError:  # e.g. an answer that is not an AWS response
        return False
    return True


STATE_DIRECTORY = "cis-file-pipeline"


def default_ledger_path(dlq_name: str, environ: dict[str, str] | None = None) -> Path:
    """Where a one-at-a-time move records its steps unless --ledger says: the user's state directory
    ($XDG_STATE_HOME, else ~/.local/state; the XDG Base Directory spec), never the working tree."""
    environ = dict(os.environ if environ is None else environ)
    base = (
        Path(environ["XDG_STATE_HOME"]) if environ.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    )
    return base / STATE_DIRECTORY / f"dlq-redrive-{dlq_name}.ledger"


class MoveTaskUnavailable(Exception):
    """The endpoint does not offer StartMessageMoveTask (moto 5.2 answers HTTP 500)."""


@dataclass
class MoveTaskResult:
    status: str
    moved: int
    to_move: int | None
    failure_reason: str | None = None


def move_all(
    queues: Queues,
    rate: int | None = None,
    poll_seconds: float | None = None,
    progress: Progress | None = None,
    timeout_seconds: float | None = None,
) -> MoveTaskResult:
    """Move every message with SQS's own move task (`StartMessageMoveTask`, at `rate` messages per
    second), and follow it with `ListMessageMoveTasks` until it is COMPLETED, CANCELLED or FAILED.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListMessageMoveTasks.html
    """
    _, queue_arn = queues.require_queue()
    sqs = queues.sqs
    request: dict[str, Any] = {"SourceArn": queues.dlq_arn, "DestinationArn": queue_arn}
    if rate:
        request["MaxNumberOfMessagesPerSecond"] = min(int(rate), MAX_MOVE_RATE)
    try:
        handle = sqs.start_message_move_task(**request).get("TaskHandle")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in MOVE_TASK_MISSING or (status >= 500 and code in {"500", "501", ""}):
            running = _active_task(sqs, queues.dlq_arn)
            if running:  # SQS allows one move task per queue: not "unavailable", just busy
                raise DlqError(
                    f"a move task is already {running.get('Status')} on this DLQ "
                    f"({running.get('ApproximateNumberOfMessagesMoved', 0)} moved so far, handle "
                    f"{running.get('TaskHandle') or '?'}): wait for it (ListMessageMoveTasks) or cancel it "
                    "(CancelMessageMoveTask) before starting another; nothing changed"
                ) from error
            raise MoveTaskUnavailable(
                f"StartMessageMoveTask is not available on this endpoint ({code or status})"
            ) from error
        raise
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=queues.dlq_arn, MaxResults=1).get("Results", [])
        task = next(
            (t for t in tasks if not handle or t.get("TaskHandle") in (handle, None)),
            tasks[0] if tasks else {},
        )
        status = task.get("Status", "RUNNING")
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        to_move = task.get("ApproximateNumberOfMessagesToMove")
        if progress is not None:
            progress.update(moved, int(to_move) if to_move is not None else None)
        if status in MOVE_TASK_DONE:
            if progress is not None:
                progress.close()
            return MoveTaskResult(status, moved, to_move, task.get("FailureReason"))
        if deadline is not None and time.monotonic() > deadline:
            return MoveTaskResult(
                status, moved, to_move, "still running: follow it with ListMessageMoveTasks"
            )
        time.sleep(MOVE_TASK_POLL_SECONDS if poll_seconds is None else poll_seconds)
