"""Queues shaped differently from this repo's pipeline: a FIFO pair (found by trying: every copy was
refused for want of a MessageGroupId, and the rerun then claimed they had been "sent again")."""

from __future__ import annotations

import json
import os

import pytest

from dlq.__main__ import main
from tests.dlq.seeding import carried_ids, direct_body, drain

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
def test_a_queue_that_is_its_own_dlq_is_not_redriven_into_itself(aws, capsys, with_queue_url):
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

    assert main(["redrive", "--reason", "none", "--max", "5", "--yes", *urls]) == 2
    err = capsys.readouterr().err
    assert "is its own dead-letter queue" in err and err.strip().splitlines()[-1].startswith("dlq: ")
    assert [m["MessageId"] for m in drain(sqs, url, visibility_seconds=1)] == [original]
