"""Lambda consumers written elsewhere: the gate's mandatory verdicts are what AWS's Lambda and SQS pages say,
and each message names the consumer it judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.lambda_outside_programs import LAMBDA_PROGRAMS
from tests.programs import gate


@pytest.mark.parametrize("name", list(LAMBDA_PROGRAMS))
def test_mandatory_verdicts_are_what_aws_does(tmp_path: Path, name: str):
    program = LAMBDA_PROGRAMS[name]
    result = gate(tmp_path, program.source)
    assert result.could_not_run == []
    assert {violation.policy for violation in result.mandatory_violations} == program.fails, [
        violation.message for violation in result.violations
    ]


def messages(tmp_path: Path, name: str, policy: str) -> list[str]:
    result = gate(tmp_path, LAMBDA_PROGRAMS[name].source)
    return [violation.message for violation in result.violations if violation.policy == policy]


def test_a_mapping_naming_an_alias_arn_is_judged_on_the_function_timeout(tmp_path: Path):
    (message,) = messages(
        tmp_path,
        "mapping names the function by an alias ARN, visibility 60 < 6 x 30",
        "visibility-covers-processing",
    )
    assert "Lambda processor (timeout 30 s" in message and ">= 180" in message


@pytest.mark.parametrize(
    "name",
    [
        "on-failure destination on the mapping instead of a redrive policy",
        "function's asynchronous on-failure destination instead of a redrive policy",
    ],
)
def test_an_on_failure_destination_is_named_as_no_dead_letter_queue_for_sqs(tmp_path: Path, name: str):
    (message,) = messages(tmp_path, name, "dead-letter-queue-required")
    assert message.startswith("queue jobs has no redrive policy") and "on-failure destination" in message
    assert "jobs-dlq" in message and "RedrivePolicy" in message


def test_a_function_receiving_by_itself_is_judged_on_its_timeout(tmp_path: Path):
    (message,) = messages(
        tmp_path,
        "SNS-triggered function whose role may receive from the queue, timeout 300, visibility 180",
        "visibility-covers-processing",
    )
    assert "Lambda processor" in message and ">= 300" in message and "maxProcessingSeconds" not in message


THROTTLED = "lambda-consumer-not-throttled"


def test_reserved_concurrency_zero_says_files_are_dead_lettered_and_how_to_stop(tmp_path: Path):
    (message,) = messages(
        tmp_path, "function with reserved concurrency 0 under an enabled mapping", THROTTLED
    )
    assert "reserved concurrency 0" in message and "never processed" in message and "enabled=False" in message


def test_a_reservation_below_the_mapping_concurrency_is_named(tmp_path: Path):
    (message,) = messages(
        tmp_path, "reserved concurrency 5 under a mapping of maximum concurrency 10", THROTTLED
    )
    assert "reserved concurrency 5" in message and "(10 in total)" in message


def test_no_throttling_note_without_a_reservation_or_when_the_mapping_is_disabled(tmp_path: Path):
    name = "function with reserved concurrency 0 under an enabled mapping"
    disabled = LAMBDA_PROGRAMS[name].source.replace("batch_size=10, ", "batch_size=10, enabled=False, ")
    assert "enabled=False" in disabled
    result = gate(tmp_path / "disabled", disabled)
    assert not [v for v in result.violations if v.policy == THROTTLED]
    assert (
        messages(
            tmp_path / "plain",
            "mapping names the queue by its ARN as a string, visibility 60 < 6 x 30",
            THROTTLED,
        )
        == []
    )


@pytest.mark.parametrize(
    "queue",
    [
        'queue = aws.sqs.Queue.get("jobs", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs")\n',
        'queue = type("Outside", (), {"arn": "arn:aws:sqs:us-east-1:123456789012:other-team-jobs"})\n',
    ],
    ids=["read by id", "another stack's ARN"],
)
def test_a_mapping_on_a_queue_outside_the_stack_gets_a_note(tmp_path: Path, queue: str):
    """Nothing to judge it on (its visibility and DLQ are elsewhere), so a note says so instead of silence."""
    from tests.policy.lambda_outside_programs import ASSUME, function, mapping

    result = gate(tmp_path, ASSUME + queue + function() + mapping())
    assert result.mandatory_violations == []
    notes = [v.message for v in result.violations if v.policy == "cannot-decide-from-stack"]
    assert any("event source mapping processor consumes arn:aws:sqs:" in note for note in notes), notes


PARTIAL_BATCHES = "lambda-reports-batch-item-failures"


def test_whole_batch_failure_is_noted_with_the_batch_size(tmp_path: Path):
    (message,) = messages(
        tmp_path,
        "mapping without ReportBatchItemFailures (whole batch retried; the DLQ still ends a poison file)",
        PARTIAL_BATCHES,
    )
    assert "batches of up to 10 records" in message and "ReportBatchItemFailures" in message


@pytest.mark.parametrize(
    ("options", "noted"),
    [
        ("", True),  # SQS's default batch size is 10
        ("batch_size=1, ", False),
        (
            'function_response_types=["ReportBatchItemFailures"], batch_size=100, maximum_batching_window_in_seconds=5, ',
            False,
        ),
    ],
    ids=["default batch", "batch of one", "partial responses"],
)
def test_whole_batch_failure_needs_a_batch_to_share(tmp_path: Path, options: str, noted: bool):
    from tests.policy.lambda_outside_programs import function, mapping, program

    result = gate(tmp_path, program(consumer=function() + mapping(options)))
    assert bool([v for v in result.violations if v.policy == PARTIAL_BATCHES]) is noted
