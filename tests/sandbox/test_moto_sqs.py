"""The local AWS hands a message to one receive at a time, however many receive at once
(sandbox/moto_sqs.py): the drill's "indexed twice" on a loaded machine came from moto's race."""

from __future__ import annotations

import threading
from collections import Counter

from sandbox.local_aws import clients

MESSAGES = 400
RECEIVERS = 12


def test_concurrent_receives_never_take_the_same_message(aws_endpoint):
    _, sqs, _ = clients(aws_endpoint)
    url = sqs.create_queue(QueueName="race-once", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    for start in range(0, MESSAGES, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)]
        )
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def receive() -> None:
        _, own, _ = clients(aws_endpoint)
        while True:
            messages = own.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return
            with lock:
                received.update(m["MessageId"] for m in messages)

    threads = [threading.Thread(target=receive) for _ in range(RECEIVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    twice = {message_id: n for message_id, n in received.items() if n > 1}
    assert twice == {}
    assert len(received) == MESSAGES
