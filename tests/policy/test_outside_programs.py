"""Programs written elsewhere, built from AWS's documentation: the gate's mandatory verdicts are exactly
what AWS's behaviour says (no missed incident variant, no false positive on the traps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.outside_programs import PROGRAMS
from tests.programs import gate


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_mandatory_verdicts_are_what_aws_does(tmp_path: Path, name: str):
    program = PROGRAMS[name]
    result = gate(tmp_path, program.source)
    assert result.could_not_run == []
    assert {violation.policy for violation in result.mandatory_violations} == program.fails, [
        violation.message for violation in result.violations
    ]


def messages(tmp_path: Path, name: str, policy: str) -> list[str]:
    result = gate(tmp_path, PROGRAMS[name].source)
    return [violation.message for violation in result.violations if violation.policy == policy]


def test_the_swap_is_named(tmp_path: Path):
    (message,) = messages(
        tmp_path, "redrive policy declared on the dead-letter queue (swapped)", "dead-letter-queue-required"
    )
    assert "wrong queue" in message and "dead" in message


def test_retention_fix_works_at_the_maximum(tmp_path: Path):
    (message,) = messages(
        tmp_path, "source and dead-letter queue both at the 14-day maximum", "dead-letter-queue-required"
    )
    assert "lower the source's" in message


def test_type_mismatch_says_what_sqs_does(tmp_path: Path):
    (message,) = messages(
        tmp_path, "FIFO queue with a standard dead-letter queue", "dead-letter-queue-required"
    )
    assert "FIFO" in message and "same type" in message


def test_guardrail_and_visibility_verdicts_are_separate(tmp_path: Path):
    denied = messages(
        tmp_path / "a", "worker denied deletion by an attached guardrail", "consumer-can-delete"
    )
    assert any(
        "queue jobs " in m and "not sqs:DeleteMessage" in m and "no-destructive-sqs" in m for m in denied
    )
    assert not any("ChangeMessageVisibility:" in m for m in denied)
    (no_heartbeat,) = messages(
        tmp_path / "b",
        "worker without ChangeMessageVisibility (no heartbeat, no backoff)",
        "consumer-can-delete",
    )
    assert "but not sqs:ChangeMessageVisibility" in no_heartbeat


def test_a_policy_outside_the_stack_is_an_advisory_note_not_a_verdict(tmp_path: Path):
    notes = messages(
        tmp_path,
        "worker with a policy from another stack (undecidable, advisory only)",
        "cannot-decide-from-stack",
    )
    assert any("platform/sqs-consumer" in note for note in notes)


def test_two_notifications_on_one_bucket_say_they_replace_each_other(tmp_path: Path):
    (message,) = messages(
        tmp_path, "one bucket notified by id and by its literal name", "one-notification-per-bucket"
    )
    assert "replaces" in message


def test_overlap_says_s3_rejects_it(tmp_path: Path):
    (message,) = messages(tmp_path, "overlapping prefixes for the same event", "one-notification-per-bucket")
    assert "rejects" in message


def test_defaults_left_to_aws_are_advisory_and_name_the_date(tmp_path: Path):
    notes = messages(
        tmp_path,
        "minimal published example: a bucket and a queue left to AWS's defaults",
        "aws-secure-defaults-relied-on",
    )
    assert any("October 2022" in note for note in notes)
    assert any("April 2023" in note for note in notes)


def test_a_queue_without_consumer_gets_a_note_not_a_verdict(tmp_path: Path):
    notes = messages(
        tmp_path,
        "minimal published example: a bucket and a queue left to AWS's defaults",
        "cannot-decide-from-stack",
    )
    assert any("no consumer in this stack" in note for note in notes)
