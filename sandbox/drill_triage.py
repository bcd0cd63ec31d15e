"""The drill's last step: dead-letter triage as an operator does it, with `python -m dlq` itself.

The poisoned file's dead letter is shown with the reason the worker attached, the file is fixed
(uploaded again as a valid PDF), the dead letter is replayed to the work queue with a filtered
`dlq redrive --yes`, and one worker indexes it. The operator's commands run as subprocesses, so the
drill exercises the command line the runbook gives, not a private function.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from sandbox.drill_files import DEAD_LETTERED, text_pdf
from sandbox.local_aws import local_environment, queue_depth
from worker.success_criteria import CheckResult, Verdict

TRIAGE_CHECK = "dead letter triaged: shown with its reason, fixed, replayed, indexed"
COMMAND_TIMEOUT_SECONDS = 120


def triage_dead_letters(context: Any) -> None:
    """Show, fix, replay and index the poisoned file (only where the queue has a DLQ)."""
    poisoned = [drill_file for drill_file in context.files if drill_file.expected == DEAD_LETTERED]
    if not context.redrive or not poisoned or context.pipeline is None:
        return
    pipeline, result = context.pipeline, context.result
    key = poisoned[0].key
    environment = {**context.worker_environment, **local_environment(context.endpoint)}
    queues = ["--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]

    shown = _dlq(environment, ["show", *queues, "--prefix", key, "--json"])
    rows = [json.loads(line) for line in shown.stdout.splitlines() if line.strip()]
    letter = next((row for row in rows if row.get("key") == key), None)
    if shown.returncode != 0 or letter is None:
        result.checks.append(
            CheckResult(TRIAGE_CHECK, Verdict.FAIL, f"`dlq show` found no dead letter for {key!r}")
        )
        result.notes.append(f"triage: dlq show exited {shown.returncode}: {shown.stderr.strip()[-300:]}")
        return
    result.notes.append(f"triage: dead letter {key!r}: {letter.get('errorType')}: {letter.get('reason')}")

    context.s3.put_object(
        Bucket=pipeline.upload_bucket,
        Key=key,
        Body=text_pdf("Fixed after triage"),
        ContentType="application/pdf",
    )
    replay_started = time.time()
    moved = _dlq(
        environment,
        [
            "redrive",
            *queues,
            "--prefix",
            key,
            "--yes",
            "--ledger",
            str(context.options.log_dir / "triage.ledger"),
        ],
    )
    result.notes.append(f"triage: fixed and replayed (dlq redrive exit {moved.returncode})")

    worker = context.start_workers(1, "triage")
    try:
        indexed = _wait_for_index(context, key, replay_started)
    finally:
        context.stop_workers(worker)
    dead_left = queue_depth(context.sqs, pipeline.dlq_url)[0]
    passed = moved.returncode == 0 and indexed and dead_left == 0
    detail = (
        f"reason {letter.get('errorType')!r}; redrive exit {moved.returncode}; "
        f"{'indexed' if indexed else 'NOT indexed'}; {dead_left} message(s) left in the DLQ"
    )
    result.checks.append(CheckResult(TRIAGE_CHECK, Verdict.PASS if passed else Verdict.FAIL, detail))


def _dlq(environment: dict[str, str], arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlq", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _wait_for_index(context: Any, key: str, since: float) -> bool:
    """Until the file's index document has a version written after the replay and the queue is empty."""
    pipeline = context.pipeline
    document_key = f"{pipeline.index_prefix}{pipeline.upload_bucket}/{key}.json"
    deadline = time.monotonic() + context.options.time_limit
    while time.monotonic() < deadline:
        versions = context.s3.list_object_versions(Bucket=pipeline.index_bucket, Prefix=document_key).get(
            "Versions", []
        )
        written = any(
            version["Key"] == document_key and version["LastModified"].timestamp() >= since - 1
            for version in versions
        )
        visible, in_flight = queue_depth(context.sqs, pipeline.queue_url)
        if written and visible == 0 and in_flight == 0:
            return True
        time.sleep(0.5)
    return False
