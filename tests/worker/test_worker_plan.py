"""The one outcome -> SQS action mapping (`worker.sqs_actions.plan`) that both consumers use."""

from __future__ import annotations

import inspect

import pytest

from worker import lambda_handler, sqs_actions
from worker.outcomes import Action, Outcome, Verdict
from worker.startup import QueueSettings

QUEUE = QueueSettings(visibility_timeout=900, max_receive_count=3, dlq_url="http://127.0.0.1/dlq")


@pytest.mark.parametrize(
    ("outcome", "receive_count", "action", "release_seconds"),
    [
        (Outcome.PROCESSED, 3, Action.DELETE, 0),
        (Outcome.PERMANENT_FAILURE, 1, Action.DEAD_LETTER, 0),
        (Outcome.TRANSIENT_FAILURE, 1, Action.RELEASE, 15),
        (Outcome.TIMED_OUT, 2, Action.RELEASE, 30),
        (Outcome.TRANSIENT_FAILURE, 3, Action.DEAD_LETTER, 0),
        (Outcome.INTERRUPTED, 1, Action.RELEASE, 0),
        (Outcome.INTERRUPTED, 3, Action.DEAD_LETTER, 0),
    ],
)
def test_each_outcome_maps_to_one_action(outcome, receive_count, action, release_seconds):
    todo = sqs_actions.plan(Verdict(outcome, reason="why"), receive_count, QUEUE, 15)
    assert (todo.action, todo.release_seconds) == (action, release_seconds)
    if outcome.action is Action.RELEASE and action is Action.DEAD_LETTER:
        assert todo.verdict.reason.startswith("last receive (3 of maxReceiveCount 3)")


def test_without_a_dlq_the_last_receive_is_released():
    queue = QueueSettings(visibility_timeout=900, max_receive_count=None)
    assert sqs_actions.plan(Verdict(Outcome.TRANSIENT_FAILURE), 9, queue, 15).action is Action.RELEASE


def test_the_lambda_handler_has_no_mapping_of_its_own():
    source = inspect.getsource(lambda_handler)
    assert "sqs_actions import plan" in source
    assert "last_receive_verdict" not in source and "backoff_seconds" not in source
