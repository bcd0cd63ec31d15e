"""The delivery graph's checks, one by one: which policy catches each broken hop, and that its message names
the AWS behaviour and the fix. Built from the outside set's programs (tests/policy/aws_docs_programs.py),
plus the cases that set does not hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.aws_docs_programs import (
    PROGRAMS,
    lambda_consumer,
    queues,
    s3_to_queue,
    sns_fan_out,
    stack,
    workers,
)
from tests.programs import gate

# program -> (the policy that must catch it, words its message must say)
CAUGHT_BY = {
    "S3 -> SQS with no queue policy": ("delivery-authorised", ["has no queue policy", "s3.amazonaws.com"]),
    "S3 -> SQS, queue policy's aws:SourceArn names another bucket": (
        "delivery-authorised",
        ["aws:SourceArn", "Add a queue policy statement"],
    ),
    "S3 -> SQS, queue policy's aws:SourceAccount is another account": (
        "delivery-authorised",
        ["aws:SourceAccount"],
    ),
    "S3 -> SQS, data-perimeter Deny on aws:PrincipalOrgID catches S3": (
        "delivery-authorised",
        ["explicit Deny"],
    ),
    "S3 -> SQS encrypted with the AWS-managed key alias/aws/sqs": (
        "delivery-authorised",
        ["AWS-managed key alias/aws/sqs", "cannot be changed", "customer-managed KMS key"],
    ),
    "S3 -> SQS encrypted with a customer key that does not grant S3": (
        "delivery-authorised",
        ["kms:GenerateDataKey*", "s3.amazonaws.com"],
    ),
    "S3 -> SNS -> SQS without a topic policy for S3": (
        "delivery-authorised",
        ["has no topic policy", "sns:Publish"],
    ),
    "S3 -> SNS -> SQS without a queue policy for SNS": ("delivery-authorised", ["sns.amazonaws.com"]),
    "S3 -> EventBridge -> SQS encrypted with alias/aws/sqs": (
        "delivery-authorised",
        ["events.amazonaws.com"],
    ),
    "FIFO queue as the S3 notification destination": (
        "aws-delivery-constraints",
        ["only standard SQS queues", "aws-properties-s3-bucket-queueconfiguration"],
    ),
    "S3 -> EventBridge -> SQS with EventBridge delivery off on the bucket": (
        "aws-delivery-constraints",
        ["eventbridge=True", "never fires"],
    ),
    "S3 -> EventBridge rule on a custom event bus": ("aws-delivery-constraints", ["default event bus"]),
    "dead-letter queue in another region": ("dead-letter-queue-required", ["same account and Region"]),
    "dead-letter queue whose redrive-allow policy is denyAll": ("dead-letter-queue-required", ["denyAll"]),
    "dead-letter queue allowing byQueue another source only": (
        "dead-letter-queue-required",
        ["byQueue", "sourceQueueArns"],
    ),
    "retention shorter than maxReceiveCount x visibility": (
        "dead-letter-queue-required",
        ["expires before it is dead-lettered", "Raise messageRetentionSeconds"],
    ),
    "EventBridge rule on every object created, index written to the same bucket": (
        "no-recursive-trigger",
        ["EventBridge", "feeds itself"],
    ),
    "fleet with max_size 0 as the only consumer": ("consumer-can-run", ["maxSize 0", "Set maxSize"]),
    "fleet at desired 0 with no scaling policy as the only consumer": (
        "consumer-may-be-paused",
        ["desiredCapacity 0", "scaling policy"],
    ),
    "Lambda mapping disabled, the only consumer": (
        "consumer-may-be-paused",
        ["event source mapping indexer"],
    ),
}


def said(result, policy: str) -> list[str]:
    return [v.message for v in result.violations if v.policy == policy]


@pytest.mark.parametrize("name", list(CAUGHT_BY))
def test_each_broken_hop_is_caught_by_its_rule(tmp_path: Path, name: str):
    policy, words = CAUGHT_BY[name]
    messages = said(gate(tmp_path, PROGRAMS[name].source), policy)
    assert messages, f"{policy} did not catch {name!r}"
    assert any(all(word in message for word in words) for message in messages), messages


def test_a_fifo_queue_cannot_subscribe_to_a_standard_topic(tmp_path: Path):
    fifo = (
        queues(queue_name="acme-jobs.fifo")
        .replace("receive_wait_time_seconds=20,", "receive_wait_time_seconds=20, fifo_queue=True,")
        .replace('name="acme-jobs-dlq",', 'name="acme-jobs-dlq.fifo", fifo_queue=True,')
    )
    result = gate(tmp_path, stack(fifo, sns_fan_out(), workers()))
    assert any("FIFO queue only from a FIFO topic" in m for m in said(result, "aws-delivery-constraints"))


def test_a_key_outside_the_stack_is_a_note_not_a_verdict(tmp_path: Path):
    outside_key = (
        'kms_master_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"'
    )
    result = gate(tmp_path, stack(queues(encryption=outside_key), s3_to_queue(), workers()))
    assert said(result, "delivery-authorised") == []
    notes = said(result, "cannot-decide-from-stack")
    assert any("not in this stack" in note and "s3.amazonaws.com" in note for note in notes), notes


def test_a_lambda_writing_under_the_watched_prefix_feeds_itself(tmp_path: Path):
    # The function writes index/ into the same bucket; the notification watches the whole bucket.
    result = gate(tmp_path, stack(queues(visibility=360), s3_to_queue(prefix=None), lambda_consumer(60)))
    assert any("Lambda indexer" in m for m in said(result, "no-recursive-trigger"))


def test_the_batching_window_is_advice_on_top_of_six_timeouts(tmp_path: Path):
    # 6 x 60 s = 360 s is what AWS's page asks; the 30 s window on top is noted, not blocked.
    result = gate(tmp_path, stack(queues(visibility=360), s3_to_queue(), lambda_consumer(60, window=30)))
    assert result.mandatory_violations == []
    (note,) = said(result, "lambda-visibility-covers-batching-window")
    assert "390" in note and "maximumBatchingWindowInSeconds" in note


def test_a_destination_declared_elsewhere_is_said_not_passed_silently(tmp_path: Path):
    elsewhere = "arn:aws:sqs:us-east-1:123456789012:shared-jobs"
    program = stack(queues(), s3_to_queue(), workers()).replace(
        "queue_arn=queue.arn", f'queue_arn="{elsewhere}"'
    )
    assert f'queue_arn="{elsewhere}"' in program
    notes = said(gate(tmp_path, program), "cannot-decide-from-stack")
    assert any(elsewhere in note and "cannot be decided here" in note for note in notes), notes
