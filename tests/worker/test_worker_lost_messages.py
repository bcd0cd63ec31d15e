"""The worker notices when a message it holds has been lost (its visibility ran out: SQS may hand it
to another consumer) and logs and counts it as MessageVisibilityLost; and the heartbeat extends a
message early enough that a beat that comes late on a loaded machine still comes in time (the
drill's "indexed twice, no warning"). A fake SQS client answers; no AWS needed."""

from __future__ import annotations

import time

import pytest

from worker import metrics
from worker.inflight import Heartbeat, InFlight, InFlightMessage
from worker.sqs_actions import DELETE_ATTEMPTS, DeleteBatcher

VISIBILITY = 6
INTERVAL = 2.0


class FakeSqs:
    """Answers ChangeMessageVisibilityBatch and DeleteMessageBatch with `failure` for every entry
    (or success), after `delay` seconds."""

    def __init__(self, failure: tuple[str, str] | None = None, delay: float = 0.0) -> None:
        self.failure, self.delay = failure, delay
        self.extended: list[str] = []

    def _answer(self, entries):
        time.sleep(self.delay)
        if self.failure is None:
            return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}
        code, text = self.failure
        return {
            "Successful": [],
            "Failed": [{"Id": e["Id"], "SenderFault": True, "Code": code, "Message": text} for e in entries],
        }

    def change_message_visibility_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's names
        self.extended += [e["ReceiptHandle"] for e in Entries]
        return self._answer(Entries)

    def delete_message_batch(self, QueueUrl, Entries):  # noqa: N803
        return self._answer(Entries)


def held(seconds_left: float, handle: str = "handle-1", lapse_margin: float = 0.0) -> InFlightMessage:
    """A message SQS shows again in `seconds_left` at the earliest, `lapse_margin` later at the latest
    (the receive's round trip)."""
    now = time.monotonic()
    return InFlightMessage(
        message_id=f"id-{handle}",
        receipt_handle=handle,
        body="{}",
        receive_count=1,
        received_at=now - (VISIBILITY - seconds_left),
        visible_at=now + seconds_left,
        lapses_by=now + seconds_left + lapse_margin,
    )


def heartbeat(sqs: FakeSqs, *messages: InFlightMessage) -> tuple[Heartbeat, metrics.Metrics]:
    inflight = InFlight()
    for message in messages:
        inflight.add(message)
    sink = metrics.Metrics(None, "Test", {})
    return Heartbeat(sqs, "http://127.0.0.1/q", inflight, VISIBILITY, INTERVAL, sink), sink


def test_a_message_received_just_after_a_beat_is_extended_at_the_next_one():
    # held 1.5 s (received half a second after the last beat): the next beat, late by 2.5 s on a
    # loaded machine, would come after its visibility ran out; this beat extends it.
    sqs = FakeSqs()
    message = held(VISIBILITY - 1.5)
    beat, sink = heartbeat(sqs, message)
    beat.beat()
    assert sqs.extended == ["handle-1"]
    assert message.visible_at > time.monotonic() + VISIBILITY - 1
    assert not message.lost.is_set() and sink.totals[metrics.VISIBILITY_LOST] == 0


def test_a_message_just_received_is_not_extended_yet():
    sqs = FakeSqs()
    beat, _ = heartbeat(sqs, held(VISIBILITY - 0.1))
    beat.beat()
    assert sqs.extended == []


@pytest.mark.parametrize(
    "failure",
    [
        ("ReceiptHandleIsInvalid", "The input receipt handle is invalid."),
        (
            "InvalidParameterValue",
            "Value x for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.",
        ),
        ("AWS.SimpleQueueService.MessageNotInflight", "The message referred to isn't in flight."),
    ],
)
def test_an_extension_refused_for_its_receipt_handle_is_a_lost_message(failure, caplog):
    message = held(3)
    beat, sink = heartbeat(FakeSqs(failure), message)
    beat.beat()
    beat.beat()
    assert message.lost.is_set()  # its job is stopped (the slot watches this)
    assert sink.totals[metrics.VISIBILITY_LOST] == 1  # counted once, however often it is seen
    lines = [r for r in caplog.records if r.getMessage().startswith("message lost")]
    assert len(lines) == 1 and lines[0].how == "extension refused" and failure[0] in lines[0].detail


def test_an_extension_answered_after_the_visibility_could_have_run_out_is_a_lost_message(caplog):
    message = held(0.3)
    beat, sink = heartbeat(FakeSqs(delay=0.5), message)
    beat.beat()
    assert sink.totals[metrics.VISIBILITY_LOST] == 1
    assert not message.lost.is_set()  # SQS took the extension: the job goes on
    assert any(getattr(r, "how", "") == "extension came too late" for r in caplog.records)


def test_a_message_not_extended_in_time_is_a_lost_message():
    message = held(-0.5)
    sqs = FakeSqs()
    beat, sink = heartbeat(sqs, message)
    beat.beat()
    assert message.lost.is_set() and sink.totals[metrics.VISIBILITY_LOST] == 1
    assert sqs.extended == []  # certainly visible again: its job is stopped, not extended


def test_a_message_that_may_have_lapsed_is_extended_reported_and_kept():
    # a receive whose answer took long on a loaded machine: the earliest SQS could show it again has
    # passed, the latest has not; extended at once, reported and counted, its job not stopped
    message = held(-0.5, lapse_margin=3)
    sqs = FakeSqs()
    beat, sink = heartbeat(sqs, message)
    beat.beat()
    assert sqs.extended == ["handle-1"]
    assert sink.totals[metrics.VISIBILITY_LOST] == 1
    assert not message.lost.is_set()
    assert message.lapses_by > time.monotonic() + VISIBILITY - 1


def test_an_other_extension_error_is_not_a_lost_message():
    message = held(3)
    beat, sink = heartbeat(FakeSqs(("InternalError", "try again")), message)
    beat.beat()
    assert not message.lost.is_set() and sink.totals[metrics.VISIBILITY_LOST] == 0


def test_a_delete_refused_for_its_receipt_handle_is_a_lost_message_and_a_failed_delete():
    message = held(3)
    sink = metrics.Metrics(None, "Test", {})
    deleter = DeleteBatcher(FakeSqs(("ReceiptHandleIsInvalid", "invalid")), "http://127.0.0.1/q", sink)
    deleter.start()
    deleter.delete(message)
    deleter.close()
    assert message.lost.is_set()
    assert sink.totals[metrics.VISIBILITY_LOST] == 1
    assert sink.totals[metrics.DELETE_FAILED] == 1
    assert deleter.requests == DELETE_ATTEMPTS


def test_a_message_deleted_while_its_extension_was_under_way_is_not_lost():
    # the heartbeat took its snapshot, then the job ended and the delete went through: SQS refuses
    # the extension's handle, which is no loss
    message = held(3)

    class DeletedMeanwhile(FakeSqs):
        def change_message_visibility_batch(self, QueueUrl, Entries):  # noqa: N803
            message.settled_by = "job"
            return super().change_message_visibility_batch(QueueUrl, Entries)

    beat, sink = heartbeat(DeletedMeanwhile(("ReceiptHandleIsInvalid", "invalid")), message)
    beat.beat()
    assert sink.totals[metrics.VISIBILITY_LOST] == 0
