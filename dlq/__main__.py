"""`python -m dlq summary|show|export|redrive|purge` (`make dlq ARGS="…"`): dead-letter triage.

Reads the DLQ without consuming it, exports it to JSON lines for the incident record, moves fixed
messages back to the work queue without losing or doubling any, and purges only what was exported.
Destructive commands are dry runs unless --yes. Setup errors: one line on stderr, exit 2, nothing changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dlq import moving
from dlq.letters import DeadLetter, iso, summarize
from dlq.queues import (
    SQS_BATCH,
    DlqError,
    Hold,
    Queues,
    describe,
    move_visibility_seconds,
    name_of,
    open_queues,
    region_of_arn,
    resolve_urls,
    scan_visibility_seconds,
    sqs_client,
    stack_outputs,
)
from preview.entrypoint import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, run_command

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dlq-url", help="the dead-letter queue (default: the stack output dlqUrl)")
    common.add_argument(
        "--queue-url", help="the work queue it serves (default: queueUrl, or the DLQ's only source queue)"
    )
    common.add_argument(
        "--stack-outputs",
        type=Path,
        metavar="FILE",
        help="a JSON object with dlqUrl and queueUrl (e.g. saved from `python -m sandbox.deploy --json`)",
    )
    common.add_argument("--stack", help="the Pulumi stack for `pulumi stack output --json`")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--reason", help="error type (exact) or part of the reason; `none`: redriven by SQS without one"
    )
    filters.add_argument("--prefix", help="object key prefix, e.g. uploads/reports/")

    parser = argparse.ArgumentParser(prog="python -m dlq", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", parents=[common], help="counts by reason, key prefix and age")
    summary.add_argument("--json", action="store_true")
    show = commands.add_parser("show", parents=[common, filters], help="the messages of a group")
    show.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    export = commands.add_parser("export", parents=[common], help="every message to JSON lines")
    export.add_argument("file", type=Path, metavar="FILE")
    redrive = commands.add_parser("redrive", parents=[common, filters], help="back to the work queue")
    redrive.add_argument("--max", type=int, metavar="N", help="move at most N messages")
    redrive.add_argument(
        "--rate", type=int, metavar="R", help="messages per second (the move task's velocity)"
    )
    redrive.add_argument("--yes", action="store_true", help="really move (default: a dry run)")
    redrive.add_argument(
        "--ledger",
        type=Path,
        help="where a one-at-a-time move records its steps (default: "
        "$XDG_STATE_HOME or ~/.local/state, cis-file-pipeline/dlq-redrive-<dlq name>.ledger)",
    )
    purge = commands.add_parser("purge", parents=[common, filters], help="delete what was exported")
    purge.add_argument(
        "--export", type=Path, required=True, metavar="FILE", help="the export: only its messages are deleted"
    )
    purge.add_argument("--yes", action="store_true", help="really delete (default: a dry run)")
    options = parser.parse_args(argv)
    if getattr(options, "max", None) is not None and options.max < 1:
        parser.error(f"--max {options.max}: must be at least 1 (leave --max out to move every match)")
    rate = getattr(options, "rate", None)
    if rate is not None and not 1 <= rate <= moving.MAX_MOVE_RATE:
        parser.error(
            f"--rate {rate}: must be 1 to {moving.MAX_MOVE_RATE} messages per second (the limit of "
            "StartMessageMoveTask's MaxNumberOfMessagesPerSecond); leave --rate out for SQS's own pace"
        )
    return options


def main(argv: list[str] | None = None, sqs: Any = None) -> int:
    options = parse_args(argv)
    try:
        dlq_url, queue_url = resolve_urls(
            options.dlq_url, options.queue_url, options.stack_outputs, options.stack
        )
        region_hint = (
            region_of_arn(stack_outputs(options.stack_outputs, None).get("dlqArn"))
            if options.stack_outputs
            else None
        )
        queues = open_queues(sqs or sqs_client(dlq_url, queue_url, region_hint), dlq_url, queue_url)
        return COMMANDS[options.command](queues, options)
    except DlqError as error:
        print(f"dlq: {error}", file=sys.stderr)
        return EXIT_ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"dlq: {describe(error, options.command, options.dlq_url or 'the DLQ')}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `python -m dlq show | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # while reading: every message held was handed back on the way out
        print(f"\ndlq: {options.command} interrupted; every message it held was handed back", file=sys.stderr)
        return EXIT_INTERRUPTED


def read(queues: Queues) -> list[DeadLetter]:
    """Every message of the DLQ, held for a short visibility and released before this returns."""
    with Hold(queues.sqs, queues.dlq_url, scan_visibility_seconds(queues.dlq_depth)) as hold:
        return hold.read_all()


def summary_command(queues: Queues, options: argparse.Namespace) -> int:
    report = {
        "dlqUrl": queues.dlq_url,
        "queueUrl": queues.queue_url,
        **summarize(read(queues)),
        "inFlight": queues.dlq_in_flight,
    }
    if options.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(f"{name_of(queues.dlq_url)}: {report['total']} dead letters", end="")
    print(f" (oldest {report['oldest']}, newest {report['newest']})" if report["total"] else "")
    if report["inFlight"]:
        print(f"  + {report['inFlight']} in flight: held by another reader, not counted here")
    if report["total"]:
        print("by reason:")
        for group in report["byReason"]:
            print(f"  {group['count']:>6}  {group['errorType']}: {_short(group['reason'], 90)}")
            if group["keys"]:
                more = group["count"] - len(group["keys"])
                print(
                    f"          e.g. {', '.join(group['keys'])}" + (f" and {more} more" if more > 0 else "")
                )
        print("by key prefix:")
        for prefix, count in report["byPrefix"].items():
            print(f"  {count:>6}  {prefix}")
        print("by age (since sent):")
        for label, count in report["byAge"].items():
            print(f"  {count:>6}  {label}")
    return EXIT_OK


def show_command(queues: Queues, options: argparse.Namespace) -> int:
    letters = [
        letter for letter in read(queues) if letter.matches(reason=options.reason, prefix=options.prefix)
    ]
    letters.sort(key=lambda letter: letter.sent_at)
    if options.json:
        for letter in letters:
            print(json.dumps(letter.row(), ensure_ascii=False))
        return EXIT_OK
    print(f"{'KEY':<40} {'SIZE':>9} {'RECV':>4}  {'FIRST SEEN':<20} {'LAST SEEN':<20} REASON")
    for letter in letters:
        row = letter.row()
        size = "" if row["size"] is None else str(row["size"])
        key = row["key"] or "(not an S3 event)"
        print(
            f"{_pad(_short(key, 40), 40)} {size:>9} {row['receiveCount']:>4}  {row['firstSeen']:<20} "
            f"{row['lastSeen']:<20} {row['errorType']}: {_short(row['reason'], 70)}"
        )
    print(f"{len(letters)} message(s)")
    return EXIT_OK


def export_command(queues: Queues, options: argparse.Namespace) -> int:
    if options.file.exists():
        raise DlqError(f"{options.file} exists: an export is an incident record, choose a new file name")
    partial = options.file.with_name(options.file.name + ".partial")
    try:  # before reading: an unwritable path must fail with nothing received
        handle = partial.open("w", encoding="utf-8")
    except OSError as error:
        raise DlqError(
            f"{options.file}: cannot write the export ({error.strerror}); "
            "choose a FILE in a directory that exists and is writable"
        ) from None
    try:  # Ctrl-C or an error while reading or writing leaves no `.partial` behind, only the previous state
        with handle:
            letters = read(queues)
            exported_at = iso(time.time())
            for letter in letters:
                record = {"dlq": name_of(queues.dlq_url), "exportedAt": exported_at, **letter.record()}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        partial.replace(options.file)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    print(f"exported {len(letters)} message(s) from {name_of(queues.dlq_url)} to {options.file}")
    return EXIT_OK


def redrive_command(queues: Queues, options: argparse.Namespace) -> int:
    queue_url, _ = queues.require_queue()
    everything = options.reason is None and options.prefix is None and options.max is None
    target = f"{name_of(queues.dlq_url)} -> {name_of(queue_url)}"
    if not options.yes:
        chosen = moving.select(read(queues), options.reason, options.prefix, options.max)
        if not everything:
            how = "one at a time (send, then delete)"
        elif moving.move_task_available(queues):
            how = "with StartMessageMoveTask"
        else:
            how = "one at a time (send, then delete): this endpoint has no StartMessageMoveTask"
        rate = f" at {options.rate} msg/s" if options.rate else ""
        print(f"dry run: would move {len(chosen)} message(s) {target} {how}{rate}; add --yes to move")
        for group, count in _count_groups(chosen).items():
            print(f"  {count:>6}  {group[0]}: {_short(group[1], 90)}")
        return EXIT_OK
    if everything:
        progress = moving.Progress(queues.dlq_depth, "moving")
        try:
            task = moving.move_all(queues, rate=options.rate, progress=progress)
        except KeyboardInterrupt:
            print(
                f"\ndlq: stopped following the move task; it goes on inside SQS ({target}): see it with "
                "ListMessageMoveTasks, stop it with CancelMessageMoveTask",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        except moving.MoveTaskUnavailable as unavailable:
            print(f"dlq: {unavailable}; moving one message at a time instead", file=sys.stderr)
        else:
            print(f"move task {task.status}: {task.moved} of {task.to_move} message(s) moved {target}")
            if task.failure_reason:
                print(f"dlq: {task.failure_reason}", file=sys.stderr)
            return EXIT_OK if task.status == "COMPLETED" else EXIT_FAILED
    if options.ledger is None:
        options.ledger = moving.default_ledger_path(name_of(queues.dlq_url))
        try:
            options.ledger.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DlqError(
                f"cannot create the state directory {options.ledger.parent} ({error.strerror}): "
                "pass --ledger FILE, or set XDG_STATE_HOME to a writable directory"
            ) from None
    ledger = moving.Ledger(options.ledger)
    total = queues.dlq_depth if everything else None  # a filtered move does not know its total
    try:
        result = moving.move_one_at_a_time(
            queues,
            ledger,
            reason=options.reason,
            prefix=options.prefix,
            limit=options.max,
            rate=options.rate,
            progress=moving.Progress(total, "moving"),
        )
    finally:
        ledger.close()
    notes = [f"{result.resumed} finished from an interrupted run"] if result.resumed else []
    notes += [f"{result.resent} sent again (interrupted inside SendMessage)"] if result.resent else []
    print(f"moved {result.moved} message(s) {target}" + (f" ({'; '.join(notes)})" if notes else ""))
    if result.interrupted:
        print(
            f"dlq: interrupted: stopped after {result.moved} move(s), each one finished; the rest were handed "
            f"back. Run the same command again (ledger {ledger.path}) to move the rest",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    for failure in result.failed:
        print(f"dlq: not moved: {failure}", file=sys.stderr)
    hidden = int(
        queues.sqs.get_queue_attributes(
            QueueUrl=queues.dlq_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"].get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    if hidden:
        print(
            f"dlq: {hidden} message(s) of the DLQ are in flight (read by another client, or held by an "
            f"interrupted run for up to {move_visibility_seconds(queues.dlq_depth, options.rate)} s) and were not "
            "looked at: run the same command again after that",
            file=sys.stderr,
        )
    return EXIT_FAILED if result.failed else EXIT_OK


def purge_command(queues: Queues, options: argparse.Namespace) -> int:
    exported = read_export(options.export, name_of(queues.dlq_url))
    with Hold(queues.sqs, queues.dlq_url, scan_visibility_seconds(queues.dlq_depth)) as hold:
        chosen = [
            letter
            for letter in hold.read_all()
            if letter.matches(reason=options.reason, prefix=options.prefix)
        ]
        doomed = [letter for letter in chosen if letter.message_id in exported]
        kept = len(chosen) - len(doomed)
        if not options.yes:
            print(
                f"dry run: would delete {len(doomed)} message(s) recorded in {options.export}; "
                f"{kept} matching message(s) are not in it and stay; add --yes to delete"
            )
            return EXIT_OK
        failed = 0
        for start in range(0, len(doomed), SQS_BATCH):
            chunk = doomed[start : start + SQS_BATCH]
            response = queues.sqs.delete_message_batch(
                QueueUrl=queues.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle} for i, letter in enumerate(chunk)
                ],
            )
            failed_ids = {entry["Id"] for entry in response.get("Failed", [])}
            failed += len(failed_ids)
            for i, letter in enumerate(chunk):
                if str(i) not in failed_ids:
                    hold.settle(letter.message_id)
    print(f"deleted {len(doomed) - failed} message(s); {kept} not exported, kept")
    unseen = len(exported - set(hold.letters))
    if unseen:
        print(
            f"dlq: {unseen} message(s) recorded in {options.export} were not seen: held by another reader "
            f"({queues.dlq_in_flight} in flight at the start) or already gone; run the same purge again "
            "later to delete any that come back",
            file=sys.stderr,
        )
    if failed:
        print(f"dlq: {failed} delete(s) failed; those messages are still in the DLQ", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def read_export(path: Path, dlq_name: str) -> set[str]:
    """The message ids an export recorded for this DLQ; a file of another DLQ is refused."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise DlqError(
            f"{path}: cannot read the export ({error.strerror}); run `export FILE` first"
        ) from None
    except UnicodeDecodeError:
        raise DlqError(
            f"{path}: not UTF-8 JSON lines, so not an export of `python -m dlq export`; pass the file "
            "that export wrote; nothing changed"
        ) from None
    ids: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            message_id, source = record["messageId"], record["dlq"]
        except (ValueError, KeyError, TypeError):
            raise DlqError(f"{path}:{number}: not an export line of `python -m dlq export`") from None
        if source != dlq_name:
            raise DlqError(f"{path}:{number}: exported from {source}, not {dlq_name}; nothing changed")
        ids.add(message_id)
    return ids


def _count_groups(letters: list[DeadLetter]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for letter in letters:
        counts[letter.group] = counts.get(letter.group, 0) + 1
    return counts


def _pad(text: str, width: int) -> str:
    """Left-align in `width` terminal columns: East Asian wide characters take two."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(0, width - columns)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


COMMANDS = {
    "summary": summary_command,
    "show": show_command,
    "export": export_command,
    "redrive": redrive_command,
    "purge": purge_command,
}

if __name__ == "__main__":
    run_command(main, "python -m dlq")
