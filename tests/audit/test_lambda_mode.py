"""A lambda-mode stack (compute=lambda) read by the audit and the sandbox: no Auto Scaling Group is
expected, the function's namespace is used, and the consumer check follows the live function
(tests/audit/test_lambda_live.py reads it from moto)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from audit.baseline import Baseline, consumer_check
from audit.declared import declared_stack
from audit.drift import find_drift
from audit.lambda_consumer import function_findings
from audit.live_function import LiveFunction, read_function
from audit.live_state import LiveState
from preview.render import render_program
from sandbox.data_plane import DataPlane, deployed_outputs
from tests.paths import REPO_ROOT
from worker.success_criteria import Verdict


@pytest.fixture(scope="module")
def lambda_stack():
    return render_program(REPO_ROOT, "lambda")


def test_the_declared_lambda_stack_has_a_function_and_no_group(lambda_stack, production):
    declared = declared_stack(lambda_stack, "ap-northeast-1")
    assert declared.group_name is None
    assert declared.function_name == "cis-file-pipeline-worker-lambda"
    assert declared.metric_namespace == "cis-file-pipeline/lambda"
    ec2 = declared_stack(production, "ap-northeast-1")
    assert (ec2.group_name, ec2.function_name) == ("cis-file-processor-production", None)


def test_no_missing_group_finding_and_the_consumer_check_judges_the_live_function(lambda_stack, production):
    declared = declared_stack(lambda_stack, "ap-northeast-1")
    findings = find_drift(declared, LiveState(region="ap-northeast-1"))
    assert not [finding for finding in findings if "auto scaling group" in finding.resource]
    consuming = consumer_check(Baseline(queue_visible=5, function_consuming=True), declared)
    assert consuming.verdict is Verdict.PASS and declared.function_name in consuming.detail
    # No function or no enabled mapping (or not read): a backlog fails, nothing waiting is no data.
    for read in (False, None):
        assert (
            consumer_check(Baseline(queue_visible=5, function_consuming=read), declared).verdict
            is Verdict.FAIL
        )
        assert (
            consumer_check(Baseline(queue_visible=0, function_consuming=read), declared).verdict
            is Verdict.NO_DATA
        )
    # ec2 mode keeps the group check: a backlog without a group to read fails.
    ec2 = declared_stack(production, "ap-northeast-1")
    assert consumer_check(Baseline(queue_visible=5), ec2).verdict is Verdict.FAIL
    assert any(
        "auto scaling group" in f.resource for f in find_drift(ec2, LiveState(region="ap-northeast-1"))
    )


def test_the_sandbox_leaves_out_what_it_does_not_deploy(lambda_stack):
    outputs, left_out = deployed_outputs(lambda_stack, DataPlane(region="ap-northeast-1"))
    assert {"functionName", "functionArn", "consumerName", "eventSourceMappingUuid"} <= set(left_out)
    assert outputs["computeMode"] == "lambda"
    assert outputs["workerGroupName"] is None


def _live_as_declared(declared, state: str) -> LiveFunction:
    """A live function and mapping equal to the declared ones, the mapping in `state`."""
    function, mapping = declared.function, declared.event_source_mapping
    return LiveFunction(
        name=declared.function_name,
        configuration={
            "Handler": function["handler"],
            "Runtime": function["runtime"],
            "Timeout": int(function["timeout"]),
            "Environment": {"Variables": dict(function["environment"]["variables"])},
        },
        mappings=[
            {
                "UUID": "u-1",
                "State": state,
                "BatchSize": int(mapping["batchSize"]),
                "MaximumBatchingWindowInSeconds": int(mapping.get("maximumBatchingWindowInSeconds") or 0),
                "FunctionResponseTypes": list(mapping["functionResponseTypes"]),
                "ScalingConfig": {"MaximumConcurrency": int(mapping["scalingConfig"]["maximumConcurrency"])},
            }
        ],
        queue_found=True,
    )


@pytest.mark.parametrize(
    ("state", "consuming"),
    [("Enabled", True), ("Enabling", True), ("Updating", True), ("Creating", False), ("Disabling", False)],
)
def test_mapping_states_moto_does_not_return(lambda_stack, state, consuming):
    """moto reports only Enabled or Disabled; AWS also passes through Creating, Enabling, Updating,
    Disabling and Deleting (API_EventSourceMappingConfiguration). Lambda polls only when enabled."""
    declared = declared_stack(lambda_stack, "ap-northeast-1")
    live = _live_as_declared(declared, state)
    findings = function_findings(declared, live, "ap-northeast-1")
    assert live.consuming is consuming
    assert [f.setting for f in findings] == ([] if consuming else ["eventSourceMapping.state"])


def test_only_not_found_means_no_function(lambda_stack):
    """ResourceNotFoundException is a missing function (a finding); any other error stops the audit (exit 2)."""
    lambda_client = boto3.client(
        "lambda", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(lambda_client) as stub:
        stub.add_client_error("get_function_configuration", "ResourceNotFoundException", http_status_code=404)
        assert read_function(lambda_client, "f", None).configuration is None
        stub.add_client_error("get_function_configuration", "AccessDeniedException", http_status_code=403)
        with pytest.raises(ClientError):
            read_function(lambda_client, "f", None)
