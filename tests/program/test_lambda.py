"""Lambda mode, rendered under Pulumi's mocks: only the function's compute, its mapping,
its package, its role and its alarms; and the same stack outputs as ec2 mode."""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components import function_zip
from components.function_zip import (
    PackagingError,
    build_function_zip,
    function_files,
    pinned_version,
    sha256_hex,
)
from preview.gate import evaluate, load_pack_config, load_policies
from preview.render import ProgramError, render_program
from tests.paths import REPO_ROOT
from tests.program.test_pipeline import PROJECT, dead_letter_queue, one, work_queue

EC2_ONLY_TYPES = {
    "aws:autoscaling/group:Group",
    "aws:autoscaling/lifecycleHook:LifecycleHook",
    "aws:autoscaling/policy:Policy",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:s3/bucketObjectv2:BucketObjectv2",
}
LAMBDA_ONLY_TYPES = {
    "aws:lambda/function:Function",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:cloudwatch/logGroup:LogGroup",
}


@pytest.fixture(scope="module")
def lambda_stack():
    return render_program(REPO_ROOT, "lambda")


def types(stack) -> set[str]:
    return {resource.type for resource in stack.resources}


def mapping(stack):
    return one(stack, "aws:lambda/eventSourceMapping:EventSourceMapping", "consumer-queue-mapping")


def function(stack):
    return one(stack, "aws:lambda/function:Function", "consumer-function")


def function_policy(stack) -> dict:
    return json.loads(one(stack, "aws:iam/rolePolicy:RolePolicy", "consumer-policy").inputs["policy"])


def test_each_mode_declares_only_its_own_compute(production, lambda_stack):
    assert EC2_ONLY_TYPES <= types(production)
    assert not LAMBDA_ONLY_TYPES & types(production)
    assert LAMBDA_ONLY_TYPES <= types(lambda_stack)
    assert not EC2_ONLY_TYPES & types(lambda_stack)
    assert not [
        r for r in lambda_stack.resources if r.name.startswith(("workers", "worker-bundle", "artifacts"))
    ]


def test_both_modes_export_the_same_keys(production, lambda_stack):
    assert set(production.outputs) == set(lambda_stack.outputs)
    assert production.outputs["computeMode"] == "ec2"
    assert lambda_stack.outputs["computeMode"] == "lambda"
    assert production.outputs["consumerName"] == production.outputs["workerGroupName"]
    assert production.outputs["consumerArtifactSha256"] == production.outputs["workerBundleSha256"]
    assert production.outputs["functionName"] is None
    assert lambda_stack.outputs["consumerName"] == lambda_stack.outputs["functionName"]
    assert lambda_stack.outputs["consumerName"] == "cis-file-pipeline-worker-lambda"
    assert lambda_stack.outputs["consumerArtifactSha256"] == sha256_hex(
        build_function_zip(REPO_ROOT / "worker")
    )
    for key in ("workerGroupName", "workerLaunchTemplateId", "workerBundleSha256"):
        assert lambda_stack.outputs[key] is None, key


def test_the_function_runs_the_worker_package_with_the_queue_settings(lambda_stack):
    inputs = function(lambda_stack).inputs
    assert inputs["runtime"] == "python3.12"
    assert inputs["handler"] == "worker.lambda_handler.handler"
    assert inputs["timeout"] == 900
    assert inputs["memorySize"] == 2048
    assert inputs["role"] == one(lambda_stack, "aws:iam/role:Role", "consumer-role").outputs["arn"]
    assert "deadLetterConfig" not in inputs  # SQS's redrive policy is the DLQ path
    assert inputs["environment"]["variables"] == {
        "INDEX_BUCKET": lambda_stack.outputs["indexBucketName"],
        "INDEX_PREFIX": "documents/",
        "METRIC_NAMESPACE": "cis-file-pipeline/lambda",
        "MAX_RECEIVE_COUNT": "5",
        "PROCESSING_TIMEOUT_SECONDS": "900",
    }
    assert work_queue(lambda_stack).inputs["visibilityTimeoutSeconds"] >= 6 * inputs["timeout"]


def test_the_mapping_reports_item_failures_and_has_no_failure_destination(lambda_stack):
    inputs = mapping(lambda_stack).inputs
    assert inputs["eventSourceArn"] == work_queue(lambda_stack).outputs["arn"]
    assert inputs["functionName"] == function(lambda_stack).outputs["arn"]
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert inputs["batchSize"] == 1
    assert inputs["maximumBatchingWindowInSeconds"] == 0
    assert inputs["scalingConfig"] == {"maximumConcurrency": 10}
    assert "destinationConfig" not in inputs
    redrive = json.loads(work_queue(lambda_stack).inputs["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead_letter_queue(lambda_stack).outputs["arn"]


def test_mapping_settings_follow_config():
    stack = render_program(
        REPO_ROOT,
        "lambda",
        {
            f"{PROJECT}:lambdaBatchSize": "100",
            f"{PROJECT}:lambdaBatchingWindowSeconds": "5",
            f"{PROJECT}:lambdaMaximumConcurrency": "50",
            f"{PROJECT}:lambdaTimeoutSeconds": "600",
            f"{PROJECT}:maxProcessingSeconds": "6",
        },
    )
    inputs = mapping(stack).inputs
    assert (inputs["batchSize"], inputs["maximumBatchingWindowInSeconds"]) == (100, 5)
    assert inputs["scalingConfig"] == {"maximumConcurrency": 50}
    assert function(stack).inputs["timeout"] == 600


def test_the_role_is_least_privilege(lambda_stack):
    document = function_policy(lambda_stack)
    queue_arn = work_queue(lambda_stack).outputs["arn"]
    dlq_arn = dead_letter_queue(lambda_stack).outputs["arn"]
    by_sid = {statement["Sid"]: statement for statement in document["Statement"]}
    for statement in document["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [action for action in actions if action.endswith("*")], statement
        assert statement["Resource"] != "*" and "Condition" not in statement, statement
    assert by_sid["ConsumeWorkQueue"]["Resource"] == queue_arn
    assert set(by_sid["ConsumeWorkQueue"]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    assert by_sid["DeadLetterPermanentFailures"] == {
        "Sid": "DeadLetterPermanentFailures",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        "Resource": dlq_arn,
    }
    assert by_sid["ReadUploads"]["Resource"] == "arn:aws:s3:::cis-file-pipeline-uploads-lambda/uploads/*"
    assert (
        by_sid["WriteIndexDocuments"]["Resource"] == "arn:aws:s3:::cis-file-pipeline-index-lambda/documents/*"
    )
    log_group = one(lambda_stack, "aws:cloudwatch/logGroup:LogGroup", "consumer-logs")
    assert by_sid["WriteOwnLogs"]["Resource"] == f"{log_group.outputs['arn']}:*"
    assert log_group.inputs["name"] == "/aws/lambda/cis-file-pipeline-worker-lambda"
    assert log_group.inputs["retentionInDays"] > 0
    assume = json.loads(one(lambda_stack, "aws:iam/role:Role", "consumer-role").inputs["assumeRolePolicy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attachments = lambda_stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachments == []  # no managed policy widens it


def test_the_role_passes_the_delete_rule_and_a_copy_without_delete_fails(lambda_stack):
    def fires(document: dict) -> set[str]:
        resources = copy.deepcopy(lambda_stack.resources)
        for resource in resources:
            if resource.name == "consumer-policy":
                resource.inputs["policy"] = resource.outputs["policy"] = json.dumps(document)
        return {violation.policy for violation in evaluate(resources, load_policies()).violations}

    document = function_policy(lambda_stack)
    assert "consumer-can-delete" not in fires(document)
    broken = copy.deepcopy(document)
    next(s for s in broken["Statement"] if s["Sid"] == "ConsumeWorkQueue")["Action"].remove(
        "sqs:DeleteMessage"
    )
    assert "consumer-can-delete" in fires(broken)


def test_the_lambda_stack_passes_the_gate_with_its_policy_config(lambda_stack):
    policies = load_policies()
    config = load_pack_config(REPO_ROOT / "policy" / "config.lambda.json", policies)
    result = evaluate(lambda_stack.resources, policies, config)
    assert result.violations == []


def test_the_pack_judges_the_visibility_against_six_times_the_function_timeout(lambda_stack):
    resources = copy.deepcopy(lambda_stack.resources)
    for resource in resources:
        if resource.name == "work-queue":
            resource.inputs["visibilityTimeoutSeconds"] = resource.outputs["visibilityTimeoutSeconds"] = 900
    fired = {v.policy for v in evaluate(resources, load_policies()).mandatory_violations}
    assert "visibility-covers-processing" in fired


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"compute": "fargate"}, "invalid setting compute='fargate': must be one of ec2, lambda"),
        (
            {"compute": "lambda"},
            "invalid setting visibilityTimeoutSeconds=900: in lambda mode must be >= 6 x lambdaTimeoutSeconds "
            "(6 x 900 = 5400)",
        ),
        ({"compute": "lambda"}, "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"),
        (
            {"compute": "lambda", "visibilityTimeoutSeconds": "5400", "lambdaTimeoutSeconds": "600"},
            "invalid setting lambdaTimeoutSeconds=600: must be >= maxProcessingSeconds (900)",
        ),
        (
            {
                "compute": "lambda",
                "visibilityTimeoutSeconds": "5400",
                "maxReceiveCount": "5",
                "lambdaBatchSize": "2",
            },
            "invalid setting lambdaBatchSize=2: in lambda mode a batch must fit one invocation at the longest "
            "processing time: 2 x maxProcessingSeconds (900) is more than lambdaTimeoutSeconds (900)",
        ),
        (
            {"compute": "lambda", "visibilityTimeoutSeconds": "5400", "maxReceiveCount": "3"},
            "invalid setting maxReceiveCount=3: in lambda mode must be >= 5",
        ),
        (
            {"lambdaTimeoutSeconds": "901"},
            "invalid setting lambdaTimeoutSeconds=901: allowed range is 1..900",
        ),
        ({"lambdaMemoryMb": "64"}, "invalid setting lambdaMemoryMb=64: allowed range is 128..10240"),
        (
            {"lambdaBatchSize": "11"},
            "invalid setting lambdaBatchSize=11: a batch larger than 10 needs a batching window",
        ),
        ({"lambdaBatchSize": "10001", "lambdaBatchingWindowSeconds": "1"}, "allowed range is 1..10000"),
        ({"lambdaBatchingWindowSeconds": "301"}, "lambdaBatchingWindowSeconds=301: allowed range is 0..300"),
        ({"lambdaMaximumConcurrency": "1"}, "lambdaMaximumConcurrency=1: allowed range is 2..1000"),
    ],
)
def test_invalid_compute_settings_fail_with_key_value_and_fix(overrides, expected):
    with pytest.raises(ProgramError) as error:
        render_program(
            REPO_ROOT, "production", {f"{PROJECT}:{key}": value for key, value in overrides.items()}
        )
    assert expected in str(error.value)


def test_lambda_mode_alarms_watch_the_function_beside_the_queue_and_dlq(lambda_stack):
    prefix = "cis-file-pipeline-lambda-"
    found = {
        r.inputs["name"].removeprefix(prefix): r.inputs
        for r in lambda_stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert {
        "dlq-has-messages",
        "dlq-growing-fast",
        "indexing-lag",
        "delete-failures",
        "success-rate-low",
    } <= set(found)
    assert "no-workers-with-backlog" not in found  # an Auto Scaling metric: ec2 mode only
    assert "visibility-lost" not in found  # the handler extends no visibility: it never counts it
    topic_arn = one(lambda_stack, "aws:sns/topic:Topic", "alarms-topic").outputs["arn"]
    name = lambda_stack.outputs["functionName"]
    for key, metric, stat in (
        ("function-errors", "Errors", "Sum"),
        ("function-throttles", "Throttles", "Sum"),
        ("function-duration-near-timeout", "Duration", "Maximum"),
    ):
        alarm = found[key]
        assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", metric, stat)
        assert alarm["dimensions"] == {"FunctionName": name}
        assert alarm["alarmActions"] == [topic_arn]
    timeout_ms = function(lambda_stack).inputs["timeout"] * 1000
    assert 0.8 * timeout_ms <= found["function-duration-near-timeout"]["threshold"] < timeout_ms
    # The handler publishes the worker's metric names with the QueueName dimension (EMF), as on EC2.
    assert found["delete-failures"]["dimensions"] == {"QueueName": "cis-file-pipeline-queue-lambda"}
    body = json.loads(
        one(lambda_stack, "aws:cloudwatch/dashboard:Dashboard", "alarms-dashboard").inputs["dashboardBody"]
    )
    text = json.dumps(body)
    assert "AWS/AutoScaling" not in text and "AWS/Lambda" in text


def test_ec2_mode_keeps_no_function_alarms(production):
    names = [r.inputs["name"] for r in production.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert not [name for name in names if "function-" in name]
    assert any(name.endswith("no-workers-with-backlog") for name in names)


def entries(archive: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(archive)).infolist()


def test_the_zip_is_reproducible_and_changes_with_a_worker_file(tmp_path: Path):
    source = tmp_path / "worker"
    shutil.copytree(REPO_ROOT / "worker", source, ignore=shutil.ignore_patterns("__pycache__"))
    first = build_function_zip(source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "consumer.cpython-311.pyc").write_bytes(b"compiled")
    (source / "stray.pyc").write_bytes(b"compiled")
    for path in source.rglob("*"):
        path.touch()  # new mtimes must not matter
    assert build_function_zip(source) == first
    (source / "indexer.py").write_text((source / "indexer.py").read_text() + "\n# changed\n")
    assert sha256_hex(build_function_zip(source)) != sha256_hex(first)


def test_the_zip_holds_the_worker_package_without_units_or_caches():
    archive = build_function_zip(REPO_ROOT / "worker")
    names = [info.filename for info in entries(archive)]
    assert names == sorted(names)
    assert "worker/__init__.py" in names and "worker/contract.py" in names
    assert not [n for n in names if n.endswith((".service", ".pyc")) or "__pycache__" in n]
    assert len([n for n in names if n.startswith("worker/")]) == len(function_files(REPO_ROOT / "worker"))
    for info in entries(archive):
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644


def test_the_zip_vendors_pypdf_at_the_pinned_version_so_pdfs_index_in_lambda(tmp_path: Path):
    archive = zipfile.ZipFile(io.BytesIO(build_function_zip(REPO_ROOT / "worker")))
    names = archive.namelist()
    assert "pypdf/__init__.py" in names and "pypdf/_reader.py" in names
    assert not [n for n in names if n.startswith(("boto3/", "botocore/")) or ".dist-info" in n]
    archive.extractall(tmp_path)
    probe = "import pypdf, worker.indexer; print(pypdf.__version__, pypdf.__file__, worker.indexer.__file__)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    version, pypdf_file, indexer_file = result.stdout.split()
    assert version == pinned_version(REPO_ROOT / "worker", "pypdf"), result.stderr
    assert Path(pypdf_file).is_relative_to(tmp_path) and Path(indexer_file).is_relative_to(tmp_path)


def test_another_pypdf_fails_the_build_naming_the_pin(monkeypatch):
    pin = pinned_version(REPO_ROOT / "worker", "pypdf")
    real = function_zip.importlib.metadata.distribution

    class Other:
        version = "0.1"
        files = real("pypdf").files

    monkeypatch.setattr(function_zip.importlib.metadata, "distribution", lambda name: Other())
    with pytest.raises(
        PackagingError, match=rf"vendors pypdf=={re.escape(pin)} .* but pypdf 0\.1 is installed"
    ):
        build_function_zip(REPO_ROOT / "worker")


def test_local_hidden_and_editor_files_stay_out_of_the_zip(tmp_path: Path):
    """A developer's `.env`, Finder's `.DS_Store` or an editor backup must neither ship nor change the hash,
    and a checkout under a directory named like a cache still packs everything."""
    source = tmp_path / ".pytest_cache" / "checkout" / "worker"
    shutil.copytree(REPO_ROOT / "worker", source, ignore=shutil.ignore_patterns("__pycache__"))
    clean = build_function_zip(source)
    assert clean == build_function_zip(REPO_ROOT / "worker")
    (source / ".env").write_text("AWS_SECRET_ACCESS_KEY=do-not-ship\n")
    (source / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (source / ".idea").mkdir()
    (source / ".idea" / "workspace.xml").write_text("<project/>")
    (source / "indexer.py~").write_text("backup")
    (source / ".indexer.py.swp").write_bytes(b"swap")
    assert build_function_zip(source) == clean
