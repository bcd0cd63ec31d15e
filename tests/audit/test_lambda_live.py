"""The lambda-mode audit reads the function and its event source mapping live and judges them.

The lambda stack's data plane is deployed to moto server by `sandbox.data_plane.deploy` (queues,
buckets, alarms); the function and the mapping are not (the sandbox deploys no compute), so each test
creates them with boto3 as the stack declares them, with a role from moto's IAM, then breaks them as
an operator would. RedriveAllowPolicy is emulated on the audit's SQS client as in conftest.py. moto 5.2 stores functions and mappings without Docker (it needs Docker only to
invoke), returns them from GetFunctionConfiguration and ListEventSourceMappings (filtered by
EventSourceArn), and reports `State` Disabled after UpdateEventSourceMapping(Enabled=False); every
breakage here is real moto state, no Stubber needed.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest
from moto.backends import get_backend

import audit.__main__ as audit_main
from audit.declared import declared_stack
from preview.render import RenderedStack, render_program
from sandbox.data_plane import deploy
from sandbox.local_aws import REGION, client, clients, local_environment
from tests.audit.conftest import RedriveAllow, drain
from tests.paths import REPO_ROOT

STACK = "lambda"
RESET_SERVICES = ("s3", "sqs", "cloudwatch", "lambda", "iam")
SHORT_TIMEOUT = {
    # A lambda stack whose function timeout leaves room to raise it live: 6 x 150 = 900 = visibility.
    "cis-file-pipeline:maxProcessingSeconds": "120",
    "cis-file-pipeline:lambdaTimeoutSeconds": "150",
    "cis-file-pipeline:visibilityTimeoutSeconds": "900",
}
ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def lambda_stack() -> RenderedStack:
    return render_program(REPO_ROOT, STACK)


@pytest.fixture(scope="module")
def short_timeout_stack() -> RenderedStack:
    return render_program(REPO_ROOT, STACK, SHORT_TIMEOUT)


@dataclass
class LambdaDeployment:
    function_name: str
    mapping_uuid: str
    queue_url: str
    sqs: Any
    lambda_: Any


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'batchItemFailures': []}\n")
    return buffer.getvalue()


def deploy_lambda_stack(
    endpoint: str, stack: RenderedStack, monkeypatch: pytest.MonkeyPatch
) -> LambdaDeployment:
    """The stack's data plane, then its function and mapping as declared (the audit renders `stack`)."""
    for key, value in local_environment(endpoint).items():
        monkeypatch.setenv(key, value)
    for service in RESET_SERVICES:
        get_backend(service).reset()  # type: ignore[arg-type]
    s3, sqs, cloudwatch = clients(endpoint)
    plane = deploy(stack, s3, sqs, cloudwatch, REGION)
    declared = declared_stack(stack, REGION)
    assert declared.function and declared.event_source_mapping and declared.work_queue
    drain(sqs, plane.queue_urls[declared.work_queue])  # the s3:TestEvent
    iam, lambda_ = client(endpoint, "iam"), client(endpoint, "lambda")
    role = iam.create_role(RoleName="function-role", AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA))
    function = declared.function
    variables = dict(function["environment"]["variables"])
    lambda_.create_function(
        FunctionName=declared.function_name,
        Runtime=function["runtime"],
        Handler=function["handler"],
        Role=role["Role"]["Arn"],
        Code={"ZipFile": _zip()},
        Timeout=int(function["timeout"]),
        MemorySize=int(function["memorySize"]),
        Environment={"Variables": variables},
    )
    mapping = declared.event_source_mapping
    created = lambda_.create_event_source_mapping(
        EventSourceArn=plane.queue_arns[declared.work_queue],
        FunctionName=declared.function_name,
        BatchSize=int(mapping["batchSize"]),
        MaximumBatchingWindowInSeconds=int(mapping.get("maximumBatchingWindowInSeconds") or 0),
        FunctionResponseTypes=list(mapping["functionResponseTypes"]),
        ScalingConfig={"MaximumConcurrency": int(mapping["scalingConfig"]["maximumConcurrency"])},
    )
    redrive_allow = RedriveAllow()
    for policy in stack.of_type("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"):
        document = json.loads(policy.inputs["redriveAllowPolicy"])
        document["sourceQueueArns"] = [
            plane.queue_arns[arn.rsplit(":", 1)[-1]] for arn in document.get("sourceQueueArns", [])
        ]
        redrive_allow.policies[plane.queue_urls[policy.inputs["queueUrl"].rsplit("/", 1)[-1]]] = json.dumps(
            document
        )
    real_connect = audit_main.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        made = real_connect(*args, **kwargs)
        redrive_allow.attach(made.sqs)
        return made

    monkeypatch.setattr(audit_main, "connect", connect)
    real_render = audit_main.render_program
    monkeypatch.setattr(
        audit_main,
        "render_program",
        lambda program, name, *args, **kwargs: (
            stack if name == STACK else real_render(program, name, *args, **kwargs)
        ),
    )
    return LambdaDeployment(
        declared.function_name or "", created["UUID"], plane.queue_urls[declared.work_queue], sqs, lambda_
    )


@pytest.fixture
def deployed(endpoint: str, lambda_stack: RenderedStack, monkeypatch: pytest.MonkeyPatch) -> LambdaDeployment:
    return deploy_lambda_stack(endpoint, lambda_stack, monkeypatch)


def run_audit() -> tuple[int, dict[str, Any], str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = audit_main.main(["--stack", STACK, "--json"])
    report = json.loads(out.getvalue())
    text = audit_main.text_report(report)
    return code, report, text


def mandatory_lines(report: dict[str, Any]) -> list[str]:
    return [
        f"[mandatory] {finding['resource']}: {finding['message']}"
        for finding in report["findings"]
        if finding["level"] == "mandatory"
    ]


def test_a_healthy_lambda_deployment_passes_and_the_consumer_check_is_a_pass(deployed):
    code, report, text = run_audit()
    assert code == 0, text
    assert not report["findings"] and not report["violations"], text
    assert text.splitlines()[-1] == "Audit passed (3 checks without data).", text
    check = {c["name"]: c for c in report["success_metrics"]}["function consumes the queue"]
    assert check["verdict"] == "PASS", check
    assert report["baseline"]["function_consuming"] is True


def test_the_mapping_deleted(deployed):
    deployed.lambda_.delete_event_source_mapping(UUID=deployed.mapping_uuid)
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report) == [
        f"[mandatory] function {deployed.function_name}: no event source mapping from "
        "cis-file-pipeline-queue-lambda: no consumer processes the queue"
    ], text


def test_the_mapping_disabled(deployed):
    deployed.lambda_.update_event_source_mapping(UUID=deployed.mapping_uuid, Enabled=False)
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report) == [
        f"[mandatory] function {deployed.function_name}: event source mapping {deployed.mapping_uuid} from "
        "cis-file-pipeline-queue-lambda is Disabled: no consumer processes the queue"
    ], text


def test_a_disabled_mapping_with_a_backlog_fails_the_consumer_check(deployed):
    deployed.lambda_.update_event_source_mapping(UUID=deployed.mapping_uuid, Enabled=False)
    deployed.sqs.send_message(QueueUrl=deployed.queue_url, MessageBody="{}")
    code, report, _ = run_audit()
    check = {c["name"]: c for c in report["success_metrics"]}["function consumes the queue"]
    assert code == 1 and check["verdict"] == "FAIL" and "1 message(s) wait" in check["detail"]


def test_report_batch_item_failures_removed(deployed):
    deployed.lambda_.update_event_source_mapping(UUID=deployed.mapping_uuid, FunctionResponseTypes=[])
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report) == [
        f"[mandatory] function {deployed.function_name}: event source mapping {deployed.mapping_uuid} does not "
        "report batch item failures (ReportBatchItemFailures removed): one failed record returns its whole "
        "batch to the queue"
    ], text


def test_the_function_deleted(deployed):
    deployed.lambda_.delete_function(FunctionName=deployed.function_name)
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report)[0] == (
        f"[mandatory] function {deployed.function_name}: not found in {REGION}: no consumer processes the queue"
    ), text
    assert len(mandatory_lines(report)) == 1, text


def test_the_wrong_handler(deployed):
    deployed.lambda_.update_function_configuration(
        FunctionName=deployed.function_name, Handler="handler.main"
    )
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report) == [
        f"[mandatory] function {deployed.function_name}: handler is handler.main, the stack declares "
        "worker.lambda_handler.handler: every invocation fails before processing a file"
    ], text


def test_the_index_bucket_changed_and_the_batch_size_drifted(deployed):
    configuration = deployed.lambda_.get_function_configuration(FunctionName=deployed.function_name)
    variables = {**configuration["Environment"]["Variables"], "INDEX_BUCKET": "someone-elses-bucket"}
    deployed.lambda_.update_function_configuration(
        FunctionName=deployed.function_name, Environment={"Variables": variables}
    )
    deployed.lambda_.update_event_source_mapping(UUID=deployed.mapping_uuid, MaximumBatchingWindowInSeconds=5)
    code, report, text = run_audit()
    assert code == 1
    [line] = mandatory_lines(report)
    assert "environment INDEX_BUCKET is someone-elses-bucket, the stack declares" in line, text
    advisory = [f["message"] for f in report["findings"] if f["level"] == "advisory"]
    assert any("MaximumBatchingWindowInSeconds is 5, the stack declares 0" in m for m in advisory), text


def test_a_second_function_mapped_to_the_queue(deployed):
    role = deployed.lambda_.get_function_configuration(FunctionName=deployed.function_name)["Role"]
    deployed.lambda_.create_function(
        FunctionName="old-indexer",
        Runtime="python3.12",
        Handler="handler.handler",
        Role=role,
        Code={"ZipFile": _zip()},
    )
    queue_arn = deployed.sqs.get_queue_attributes(QueueUrl=deployed.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    other = deployed.lambda_.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="old-indexer")
    code, report, text = run_audit()
    assert code == 1
    assert mandatory_lines(report) == [
        f"[mandatory] function {deployed.function_name}: cis-file-pipeline-queue-lambda also feeds function "
        f"old-indexer (event source mapping {other['UUID']}), which the stack does not declare: some uploads "
        "are processed elsewhere"
    ], text


@pytest.fixture
def short_timeout(
    endpoint: str, short_timeout_stack: RenderedStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LambdaDeployment]:
    yield deploy_lambda_stack(endpoint, short_timeout_stack, monkeypatch)


def test_the_function_timeout_raised_past_the_visibility(short_timeout):
    """Declared 150 s with visibility 900 (6 x 150); raised live to 900 s, the queue no longer covers it.
    The pack's visibility rule judges the live timeout (the declared one would pass)."""
    code, report, text = run_audit()
    assert code == 0, text
    short_timeout.lambda_.update_function_configuration(FunctionName=short_timeout.function_name, Timeout=900)
    code, report, text = run_audit()
    assert code == 1
    assert [v for v in report["violations"] if v["level"] == "mandatory"], text
    assert not mandatory_lines(report), text
    advisory = [f["message"] for f in report["findings"] if f["level"] == "advisory"]
    assert "timeout is 900 s, the stack declares 150 s" in advisory, text
