"""Filtered redrives against moto server: killed between send and delete and resumed, and run while a
worker consumes the work queue. Nothing is lost, nothing is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from dlq import moving
from dlq.__main__ import main
from sandbox.local_aws import queue_depth, wait_until
from tests.dlq.seeding import archived_file, carried_ids, dead_letter, direct_body, drain
from tests.local_aws import running_consumer, worker_config
from tests.paths import REPO_ROOT
from tests.worker.processors import calls
from worker.startup import PROBE_KEY

pytestmark = pytest.mark.slow

HOLD_SECONDS = 2
"""The redrive's read visibility in the killed runs: how long a killed run's held messages stay hidden."""


def run_interrupting(kill_after: int, arguments: list[str]) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DLQ_SCAN_VISIBILITY_SECONDS": str(HOLD_SECONDS),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.dlq.interrupting", str(kill_after), *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_move_killed_between_send_and_delete_resumes_without_duplicates_or_losses(
    aws, pipeline_factory, tmp_path
):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    bucket = pipeline.upload_bucket
    chosen = {
        dead_letter(
            sqs,
            pipeline.dlq_url,
            direct_body(bucket, f"uploads/fixed/{n}.pdf"),
            "PermanentError",
            "not a readable PDF",
        )
        for n in range(30)
    }
    others = {
        dead_letter(
            sqs,
            pipeline.dlq_url,
            direct_body(bucket, f"uploads/big/{n}.bin"),
            "ProcessingTimedOut",
            "took too long",
        )
        for n in range(10)
    }
    arguments = ["redrive", "--reason", "PermanentError", "--yes", "--ledger", str(tmp_path / "ledger")]
    arguments += ["--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]
    interruptions = 0
    for _ in range(15):
        done = run_interrupting(7, arguments)
        if done.returncode == 0:
            break
        assert done.returncode == -9, done.stderr
        interruptions += 1
        # the killed run released nothing: its messages reappear when the short read visibility ends
        wait_until(
            lambda: queue_depth(sqs, pipeline.dlq_url)[1] == 0, 30, message="held messages visible again"
        )
    else:
        pytest.fail("the redrive never finished")

    copies = carried_ids(drain(sqs, pipeline.queue_url))
    left = {m["MessageId"] for m in drain(sqs, pipeline.dlq_url)}
    duplicates = len(copies) - len(set(copies))
    losses = len(chosen - set(copies) - left)
    print(
        f"interrupted_move messages={len(chosen)} interruptions={interruptions} "
        f"duplicates={duplicates} losses={losses}"
    )
    assert interruptions >= 4
    assert duplicates == 0 and losses == 0
    assert set(copies) == chosen
    assert left == others


def test_a_slow_move_whose_held_messages_reappear_still_reaches_every_chosen_message(
    aws, pipeline_factory, tmp_path, monkeypatch
):
    """Held messages whose visibility runs out mid-run come back as "already seen": that alone must
    not end the move while unseen chosen messages wait behind them."""
    _, sqs, _ = aws
    # a visibility far shorter than the run (the tool sizes it to the run; this test undersizes it)
    monkeypatch.setattr(moving, "move_visibility_seconds", lambda *_: 1)
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    bucket = pipeline.upload_bucket
    chosen, others = set(), set()
    for group in range(4):
        for n in range(10):
            body = direct_body(bucket, f"uploads/{group}/{n}.pdf")
            if group % 2:
                chosen.add(dead_letter(sqs, pipeline.dlq_url, body, "PermanentError", "fixed since"))
            else:
                others.add(dead_letter(sqs, pipeline.dlq_url, body, "ProcessingTimedOut", "took too long"))
    arguments = [
        "redrive",
        "--reason",
        "PermanentError",
        "--rate",
        "8",
        "--yes",
        "--ledger",
        str(tmp_path / "l"),
    ]
    assert main([*arguments, "--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]) == 0
    assert sorted(carried_ids(drain(sqs, pipeline.queue_url))) == sorted(chosen)
    wait_until(lambda: queue_depth(sqs, pipeline.dlq_url)[1] == 0, 10, message="DLQ released")
    assert {m["MessageId"] for m in drain(sqs, pipeline.dlq_url)} == others


def test_a_worker_consuming_while_the_redrive_runs_indexes_each_replayed_file_once(
    aws, pipeline_factory, tmp_path, marker_dir
):
    s3, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    fixed_keys = [archived_file(s3, pipeline, f"報告 {n}.txt", f"report {n}") for n in range(20)]
    for key in fixed_keys:
        dead_letter(
            sqs, pipeline.dlq_url, direct_body(pipeline.upload_bucket, key), "PermanentError", "fixed since"
        )
    still_broken = {
        dead_letter(
            sqs,
            pipeline.dlq_url,
            direct_body(pipeline.upload_bucket, f"uploads/{n}.pdf"),
            "NotAPdf",
            "broken",
        )
        for n in range(5)
    }
    config = worker_config(pipeline, index_prefix="documents/")
    with running_consumer(aws, config, "tests.worker.processors:record_and_index"):
        code = main(
            [
                "redrive", "--reason", "PermanentError", "--rate", "20", "--yes",
                "--ledger", str(tmp_path / "ledger"),
                "--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url,
            ]
        )  # fmt: skip
        assert code == 0

        def indexed() -> bool:
            listing = s3.list_objects_v2(Bucket=pipeline.index_bucket, Prefix="documents/")
            documents = [item for item in listing.get("Contents", []) if not item["Key"].endswith(PROBE_KEY)]
            return len(documents) == len(fixed_keys) and queue_depth(sqs, pipeline.queue_url) == (0, 0)

        wait_until(indexed, 60, message="every replayed file indexed and the queue empty")
    assert {key: len(calls(marker_dir, key)) for key in fixed_keys} == dict.fromkeys(fixed_keys, 1)
    assert {m["MessageId"] for m in drain(sqs, pipeline.dlq_url)} == still_broken


class SigintAfterSends:
    """The SQS client, except that Ctrl-C (SIGINT) arrives the moment SendMessage number `after` has
    answered: before the ledger can record `sent`, the worst moment for an interruption."""

    def __init__(self, sqs, after: int) -> None:
        self._sqs, self._after, self.sends = sqs, after, 0

    def __getattr__(self, name):
        return getattr(self._sqs, name)

    def send_message(self, **request):
        answer = self._sqs.send_message(**request)
        self.sends += 1
        if self.sends == self._after:
            signal.raise_signal(signal.SIGINT)  # Python runs the handler before this returns
        return answer


def test_ctrl_c_mid_redrive_finishes_the_message_in_hand_and_the_rerun_moves_the_rest_once(
    aws, pipeline_factory, tmp_path, capsys
):
    """Found by trying: Ctrl-C raised KeyboardInterrupt wherever it landed (a traceback, exit 1); landing
    between SendMessage's answer and the ledger's `sent`, it left `sending`, and the rerun sent that
    copy a second time."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    ids = {
        dead_letter(sqs, pipeline.dlq_url, direct_body(pipeline.upload_bucket, f"uploads/c{n}.txt"))
        for n in range(6)
    }
    arguments = ["redrive", "--reason", "none", "--yes", "--ledger", str(tmp_path / "ledger")]
    arguments += ["--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]
    try:
        code = main(arguments, sqs=SigintAfterSends(sqs, after=2))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped as a KeyboardInterrupt between send and ledger")
    captured = capsys.readouterr()
    assert (
        code == 130 and "moved 2 message(s)" in captured.out and "Run the same command again" in captured.err
    )
    assert queue_depth(sqs, pipeline.dlq_url) == (4, 0), "the rest were not handed back at once"

    assert main(arguments) == 0
    assert "moved 4 message(s)" in capsys.readouterr().out
    assert sorted(carried_ids(drain(sqs, pipeline.queue_url))) == sorted(ids), "lost or duplicated"
    assert queue_depth(sqs, pipeline.dlq_url) == (0, 0)


def test_two_filtered_redrives_at_once_on_one_dlq_move_each_message_once(aws, pipeline_factory, tmp_path):
    """Two operators (or one, twice) run the same redrive at the same moment, each with its own ledger:
    every dead letter reaches the work queue exactly once."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    ids = {
        dead_letter(sqs, pipeline.dlq_url, direct_body(pipeline.upload_bucket, f"uploads/two/{n}.txt"))
        for n in range(20)
    }
    arguments = [
        "--reason",
        "none",
        "--yes",
        "--dlq-url",
        pipeline.dlq_url,
        "--queue-url",
        pipeline.queue_url,
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "dlq", "redrive", *arguments, "--ledger", str(tmp_path / f"{n}.ledger")],
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert sorted(carried_ids(drain(sqs, pipeline.queue_url))) == sorted(ids)
    assert queue_depth(sqs, pipeline.dlq_url) == (0, 0)
