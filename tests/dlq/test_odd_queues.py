"""Queues shaped differently from this repo's pipeline: a FIFO pair (found by trying: every copy was
refused for want of a MessageGroupId, and the rerun then claimed they had been "sent again")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dlq.__main__ import main
from sandbox.local_aws import queue_depth
from tests.dlq.seeding import carried_ids, direct_body, drain
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow


def fifo_pair(sqs, name: str) -> tuple[str, str]:
    dlq = sqs.create_queue(
        QueueName=f"{name}-dlq.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    queue = sqs.create_queue(
        QueueName=f"{name}-queue.fifo", Attributes={"FifoQueue": "true", "RedrivePolicy": policy}
    )["QueueUrl"]
    return dlq, queue


def test_a_fifo_dlq_is_redriven_in_its_groups_exactly_once(aws, tmp_path, capsys):
    _, sqs, _ = aws
    dlq, queue = fifo_pair(sqs, f"fifo{os.getpid()}")
    sent = {}
    for number in range(4):
        group = f"tenant-{number % 2}"
        body = direct_body("uploads-bucket", f"uploads/{group}/f{number}.pdf")
        sent[sqs.send_message(QueueUrl=dlq, MessageBody=body, MessageGroupId=group)["MessageId"]] = group
    ledger = ["--ledger", str(tmp_path / "fifo.ledger")]

    assert (
        main(["redrive", "--reason", "none", "--yes", "--dlq-url", dlq, "--queue-url", queue, *ledger]) == 0
    )
    assert "moved 4 message(s)" in capsys.readouterr().out
    copies = drain(sqs, queue, visibility_seconds=60)
    assert sorted(carried_ids(copies)) == sorted(sent), "lost or duplicated"
    assert {
        m["MessageAttributes"]["DlqMessageId"]["StringValue"]: m["Attributes"]["MessageGroupId"]
        for m in copies
    } == sent
    assert drain(sqs, dlq, visibility_seconds=1) == []
    # run again: nothing left, nothing sent again, and no false "sent again" note
    assert (
        main(["redrive", "--reason", "none", "--yes", "--dlq-url", dlq, "--queue-url", queue, *ledger]) == 0
    )
    assert capsys.readouterr().out.startswith("moved 0 message(s)")


@pytest.mark.parametrize("with_queue_url", [True, False], ids=["explicit", "derived"])
def test_a_queue_that_is_its_own_dlq_is_not_redriven_into_itself(aws, tmp_path, capsys, with_queue_url):
    """Found by trying: a queue whose RedrivePolicy targets itself, passed as both URLs, "moved 5
    message(s)" with --max 5 while holding one message: each copy was read back and moved again
    (without --max, without end)."""
    _, sqs, _ = aws
    url = sqs.create_queue(QueueName=f"selfdlq{os.getpid()}{int(with_queue_url)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    original = sqs.send_message(QueueUrl=url, MessageBody=direct_body("b", "uploads/self.pdf"))["MessageId"]
    urls = ["--dlq-url", url, *(["--queue-url", url] if with_queue_url else [])]

    ledger = ["--ledger", str(tmp_path / "self.ledger")]
    assert main(["redrive", "--reason", "none", "--max", "5", "--yes", *ledger, *urls]) == 2
    err = capsys.readouterr().err
    assert "is its own dead-letter queue" in err and err.strip().splitlines()[-1].startswith("dlq: ")
    assert [m["MessageId"] for m in drain(sqs, url, visibility_seconds=1)] == [original]


@pytest.mark.parametrize("ledger", ["no-such-dir/run.ledger", "a-directory", "binary.ledger"])
def test_a_ledger_that_cannot_be_used_stops_the_move_before_anything_is_received(
    aws, pipeline_factory, tmp_path, capsys, ledger
):
    """Found by trying: --ledger in a missing directory, a directory, or a file that is not a ledger
    ended in a traceback (after receiving the DLQ, for the first)."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    sqs.send_message(
        QueueUrl=pipeline.dlq_url, MessageBody=direct_body(pipeline.upload_bucket, "uploads/l.pdf")
    )
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "binary.ledger").write_bytes(b"\xff\xfe\x00")
    path = tmp_path / ledger
    arguments = ["redrive", "--reason", "none", "--yes", "--ledger", str(path)]
    assert main([*arguments, "--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "--ledger" in err and "nothing changed" in err
    (letter,) = drain(sqs, pipeline.dlq_url, visibility_seconds=1)
    assert letter["Attributes"]["ApproximateReceiveCount"] == "1", "received before the ledger was checked"
    assert drain(sqs, pipeline.queue_url, visibility_seconds=1) == []


def test_show_piped_into_head_ends_quietly_and_hands_every_message_back(aws, pipeline_factory):
    """Found by trying: `python -m dlq show --json | head -2` ended in a BrokenPipeError traceback."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    for start in range(0, 300, 10):
        entries = [
            {
                "Id": str(n),
                "MessageBody": direct_body(pipeline.upload_bucket, f"uploads/{'long-' * 40}{start + n}"),
            }
            for n in range(10)
        ]
        sqs.send_message_batch(QueueUrl=pipeline.dlq_url, Entries=entries)
    shown = subprocess.Popen(
        [sys.executable, "-m", "dlq", "show", "--json", "--dlq-url", pipeline.dlq_url],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = shown.stdout.readline()
    shown.stdout.close()  # what `head -1` does after its line
    assert json.loads(first)["key"].startswith("uploads/long-")
    _, err = shown.communicate(timeout=60)
    assert shown.returncode == 141 and b"Traceback" not in err, err.decode()
    assert queue_depth(sqs, pipeline.dlq_url)[1] == 0, "messages left hidden"
