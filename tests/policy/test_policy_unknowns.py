"""Values unknown during a real `pulumi preview` (ARNs of new resources) neither pass a wrong stack
nor fail a right one. The unknowns are the policy SDK's own sentinels, read through its proxy."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from preview.gate import evaluate, load_policies
from tests.programs import PipelineProgram, render


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return render(tmp_path_factory.mktemp("unknowns"), PipelineProgram(dlq_alarm=True).source())


def with_unknown(
    stack, resource_name: str, key: str, sentinel: str = UNKNOWN_STRING_VALUE, remove: bool = False
):
    resources = copy.deepcopy(stack.resources)
    for resource in resources:
        if resource.name == resource_name:
            for props in (resource.inputs, resource.outputs):
                if remove:
                    props.pop(key, None)
                else:
                    props[key] = sentinel
    return resources


def policies_fired(resources) -> set[str]:
    return {violation.policy for violation in evaluate(resources, load_policies()).violations}


def test_baseline_passes(pipeline):
    assert policies_fired(pipeline.resources) == set()


def test_unknown_redrive_policy_counts_as_present(pipeline):
    resources = with_unknown(pipeline, "queue", "redrivePolicy")
    assert "dead-letter-queue-required" not in policies_fired(resources)


def test_absent_redrive_policy_never_counts(pipeline):
    resources = with_unknown(pipeline, "queue", "redrivePolicy", remove=True)
    assert "dead-letter-queue-required" in policies_fired(resources)


def test_unknown_dlq_arn_inside_a_known_structure_is_not_a_violation(pipeline):
    resources = copy.deepcopy(pipeline.resources)
    for resource in resources:
        if resource.name == "queue":
            for props in (resource.inputs, resource.outputs):
                props["redrivePolicy"] = {"deadLetterTargetArn": UNKNOWN_STRING_VALUE, "maxReceiveCount": 3}
    assert "dead-letter-queue-required" not in policies_fired(resources)


def test_unknown_visibility_is_reported_as_could_not_run_not_as_passed(pipeline):
    resources = with_unknown(pipeline, "queue", "visibilityTimeoutSeconds", UNKNOWN_NUMBER_VALUE)
    result = evaluate(resources, load_policies())
    assert "visibility-covers-processing" not in {v.policy for v in result.violations}
    notes = [note for note in result.could_not_run if note.policy == "visibility-covers-processing"]
    assert notes and "can't run during preview" in notes[0].message and notes[0].level == "advisory"


def test_unknown_bucket_policy_text_is_not_a_tls_violation(pipeline):
    resources = with_unknown(pipeline, "tls", "policy")
    assert "s3-tls-only" not in policies_fired(resources)


def test_unknown_iam_document_cannot_pass(tmp_path: Path):
    stack = render(tmp_path, 'aws.iam.Policy("consumer", policy=json.dumps({"Statement": []}))\n')
    resources = with_unknown(stack, "consumer", "policy")
    result = evaluate(resources, load_policies())
    assert any(note.policy == "consumer-can-delete" for note in result.could_not_run)


def test_an_unknown_role_policy_is_could_not_run_not_a_pass(tmp_path: Path):
    """A worker whose only grant is not known yet: no verdict either way, the engine's advisory note."""
    stack = render(tmp_path, PipelineProgram(dlq_alarm=True).source())
    resources = with_unknown(stack, "consumer-sqs", "policy")
    result = evaluate(resources, load_policies())
    assert "consumer-can-delete" not in {v.policy for v in result.violations}
    assert any(note.policy == "consumer-can-delete" for note in result.could_not_run)


def test_an_unknown_alarm_topic_key_is_no_verdict(tmp_path: Path):
    body = PipelineProgram(dlq_alarm=True).source() + (
        'topic = aws.sns.Topic("alerts", kms_master_key_id="alias/aws/sns")\n'
        'aws.cloudwatch.MetricAlarm("age", namespace="AWS/SQS", metric_name="ApproximateAgeOfOldestMessage", '
        'statistic="Maximum", period=60, evaluation_periods=1, threshold=600, '
        'comparison_operator="GreaterThanThreshold", alarm_actions=[topic.arn])\n'
    )
    stack = render(tmp_path, body)
    assert "alarms-reach-someone" in policies_fired(stack.resources)
    resources = with_unknown(stack, "alerts", "kmsMasterKeyId")
    assert "alarms-reach-someone" not in policies_fired(resources)
