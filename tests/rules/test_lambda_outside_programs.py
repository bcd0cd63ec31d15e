"""Lambda consumers written elsewhere: the gate's mandatory verdicts are what AWS's Lambda and SQS pages say,
and each message names the consumer it judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.programs import gate
from tests.rules.lambda_outside_programs import LAMBDA_PROGRAMS


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
