"""Reading a queue to count what is left ends and counts each message once, even on an endpoint so
slow that the first messages become visible again before the last are read."""

from __future__ import annotations

from sandbox.drill_facts import read_all


class SlowQueue:
    """A stand-in SQS queue whose received messages become visible again after `hidden_for` receives."""

    def __init__(self, count: int, hidden_for: int) -> None:
        self.messages = [f"m{n}" for n in range(count)]
        self.hidden_until: dict[str, int] = {}
        self.hidden_for = hidden_for
        self.receives = 0
        self.made_visible: list[str] = []

    def receive_message(self, QueueUrl, MaxNumberOfMessages, **_):  # noqa: N803 (boto3's names)
        self.receives += 1
        assert self.receives < 1000, "read_all does not stop"
        visible = [m for m in self.messages if self.hidden_until.get(m, 0) <= self.receives]
        batch = visible[:MaxNumberOfMessages]
        for message in batch:
            self.hidden_until[message] = self.receives + self.hidden_for
        return {
            "Messages": [
                {"MessageId": m, "ReceiptHandle": f"{m}@{self.receives}", "Attributes": {}} for m in batch
            ]
        }

    def get_queue_attributes(self, QueueUrl, AttributeNames):  # noqa: N803
        visible = [m for m in self.messages if self.hidden_until.get(m, 0) <= self.receives + 1]
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(len(visible)),
                "ApproximateNumberOfMessagesNotVisible": str(len(self.messages) - len(visible)),
            }
        }

    def change_message_visibility_batch(self, QueueUrl, Entries):  # noqa: N803
        assert len(Entries) <= 10
        self.made_visible += [entry["ReceiptHandle"] for entry in Entries]
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


def test_each_message_once_and_all_visible_again():
    queue = SlowQueue(count=35, hidden_for=10)
    messages = read_all(queue, "queue-url")
    assert sorted(m["MessageId"] for m in messages) == sorted(queue.messages)
    assert queue.receives == 4  # stops once all 35 were seen, not at an empty receive
    # every message is made visible again, by its latest receipt
    assert sorted(handle.split("@")[0] for handle in queue.made_visible) == sorted(queue.messages)


def test_reading_ends_when_messages_reappear_before_the_last_are_read():
    queue = SlowQueue(count=35, hidden_for=2)  # visible again two receives later: never empty
    messages = read_all(queue, "queue-url")
    assert queue.receives <= 35 // 10 + 20
    assert {m["MessageId"] for m in messages} <= set(queue.messages)
    assert len(messages) == len({m["MessageId"] for m in messages})  # each once


def test_an_empty_queue_is_one_receive():
    queue = SlowQueue(count=0, hidden_for=1)
    assert read_all(queue, "queue-url") == []
    assert queue.receives == 1 and queue.made_visible == []
