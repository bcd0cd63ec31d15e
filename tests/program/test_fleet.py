"""The worker fleet and its bundle, rendered under Pulumi's mocks."""

from __future__ import annotations

import base64
import copy
import fnmatch
import json
import shutil
from pathlib import Path

import pytest

from components.worker_bundle import build_bundle, bundle_files
from preview.gate import evaluate, load_policies
from preview.render import render_program
from tests.paths import REPO_ROOT
from tests.program.test_pipeline import dead_letter_queue, one, work_queue

PROGRAM_FILES = (
    "__main__.py",
    "Pulumi.yaml",
    "Pulumi.production.yaml",
    "components",
    "worker",
    "requirements.txt",
)


def user_data(stack) -> str:
    template = one(stack, "aws:ec2/launchTemplate:LaunchTemplate", "workers-launch-template")
    return base64.b64decode(template.inputs["userData"]).decode()


def environment_file(script: str) -> dict[str, str]:
    block = script.split("<<'ENVIRONMENT'\n", 1)[1].split("\nENVIRONMENT\n", 1)[0]
    return dict(line.split("=", 1) for line in block.splitlines())


def test_user_data_names_the_bundle_and_the_queue_settings(production):
    script = user_data(production)
    sha256 = production.outputs["workerBundleSha256"]
    assert f"sha256={sha256}" in script
    assert f"worker-bundles/{sha256}.tar.gz" in script
    assert f'echo "{sha256}  $workdir/worker-bundle.tar.gz" | sha256sum --check --strict -' in script
    environment = environment_file(script)
    assert environment["QUEUE_URL"] == work_queue(production).outputs["url"]
    assert environment["DLQ_URL"] == dead_letter_queue(production).outputs["url"]
    assert environment["PROCESSING_TIMEOUT_SECONDS"] == "900"
    assert (
        int(environment["PROCESSING_TIMEOUT_SECONDS"])
        <= work_queue(production).inputs["visibilityTimeoutSeconds"]
    )
    assert environment["METRIC_NAMESPACE"] == "CISFileSearch/Worker"
    assert environment["INDEX_BUCKET"] == production.outputs["indexBucketName"]
    assert environment["INDEX_PREFIX"] == "documents/"
    assert "systemctl enable --now file-processor.service file-processor-drain.service" in script


def test_processing_timeout_follows_the_single_setting():
    stack = render_program(
        REPO_ROOT,
        "production",
        {
            "cis-file-pipeline:maxProcessingSeconds": "1200",
            "cis-file-pipeline:visibilityTimeoutSeconds": "1500",
        },
    )
    environment = environment_file(user_data(stack))
    assert environment["PROCESSING_TIMEOUT_SECONDS"] == "1200"
    assert work_queue(stack).inputs["visibilityTimeoutSeconds"] == 1500
    hook = one(stack, "aws:autoscaling/lifecycleHook:LifecycleHook", "workers-drain-on-termination")
    assert hook.inputs["heartbeatTimeout"] > 1200  # long enough for the longest file to finish


def copy_program(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in PROGRAM_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def test_a_worker_change_is_a_new_bundle_and_a_new_launch_template(tmp_path):
    program = copy_program(tmp_path / "program")
    before = render_program(program, "production")
    unchanged = render_program(program, "production")
    assert user_data(unchanged) == user_data(before)
    assert unchanged.outputs["workerBundleSha256"] == before.outputs["workerBundleSha256"]

    consumer = program / "worker" / "consumer.py"
    consumer.write_text(consumer.read_text() + "\n# a fix\n")
    after = render_program(program, "production")
    assert after.outputs["workerBundleSha256"] != before.outputs["workerBundleSha256"]
    assert user_data(after) != user_data(before)
    assert after.outputs["workerBundleSha256"] in user_data(after)


def test_bundle_is_reproducible_and_ignores_caches(tmp_path):
    source = tmp_path / "worker"
    shutil.copytree(REPO_ROOT / "worker", source, ignore=shutil.ignore_patterns("__pycache__"))
    first = build_bundle(source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "consumer.cpython-311.pyc").write_bytes(b"cache")
    assert build_bundle(source) == first
    (source / "requirements.txt").write_text((source / "requirements.txt").read_text() + "# pin\n")
    assert build_bundle(source) != first


def worker_policy(stack) -> dict:
    return json.loads(one(stack, "aws:iam/rolePolicy:RolePolicy", "workers-policy").inputs["policy"])


def test_iam_statements_are_least_privilege(production):
    statements = {s["Sid"]: s for s in worker_policy(production)["Statement"]}
    queue_arn, dlq_arn = work_queue(production).outputs["arn"], dead_letter_queue(production).outputs["arn"]
    assert statements["ConsumeWorkQueue"]["Action"] == [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    ]
    assert statements["ConsumeWorkQueue"]["Resource"] == queue_arn
    assert statements["DeadLetterPermanentFailures"] == {
        "Sid": "DeadLetterPermanentFailures",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
        "Resource": dlq_arn,
    }
    assert statements["ReadUploads"]["Resource"] == "arn:aws:s3:::cis-filesearch-storage-production/uploads/*"
    assert (
        statements["WriteIndexDocuments"]["Resource"]
        == "arn:aws:s3:::cis-filesearch-index-production/documents/*"
    )
    sha256 = production.outputs["workerBundleSha256"]
    assert statements["ReadWorkerBundle"]["Resource"] == (
        f"arn:aws:s3:::cis-filesearch-artifacts-production/worker-bundles/{sha256}.tar.gz"
    )
    assert statements["PublishWorkerMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "CISFileSearch/Worker"}
    }
    assert statements["ReportOwnLifecycle"]["Action"] == [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:SetInstanceHealth",
    ]
    assert statements["ReportOwnLifecycle"]["Resource"].endswith(
        ":autoScalingGroup:*:autoScalingGroupName/cis-file-processor-production"
    )
    for statement in statements.values():
        assert "*" not in [
            action
            for action in (
                statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            )
        ]
        if statement["Sid"] != "PublishWorkerMetrics":  # PutMetricData has no resource-level permissions
            assert statement["Resource"] != "*"
    attachment = one(production, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "workers-ssm")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def consumer_rule_fires(stack, policy_document: dict) -> bool:
    resources = copy.deepcopy(stack.resources)
    for resource in resources:
        if resource.name == "workers-policy":
            resource.inputs["policy"] = resource.outputs["policy"] = json.dumps(policy_document)
    result = evaluate(resources, load_policies())
    return any(v.policy == "consumer-can-delete" for v in result.violations)


def test_worker_role_passes_the_delete_rule_and_a_copy_without_delete_fails(production):
    document = worker_policy(production)
    assert not consumer_rule_fires(production, document)
    broken = copy.deepcopy(document)
    consume = next(s for s in broken["Statement"] if s["Sid"] == "ConsumeWorkQueue")
    consume["Action"].remove("sqs:DeleteMessage")
    assert consumer_rule_fires(production, broken)


def test_instances_require_imdsv2_encrypt_their_disk_and_accept_no_ingress(production):
    template = one(production, "aws:ec2/launchTemplate:LaunchTemplate", "workers-launch-template").inputs
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    group = one(production, "aws:ec2/securityGroup:SecurityGroup", "workers-sg").inputs
    assert group.get("ingress", []) == []
    assert [rule["fromPort"] for rule in group["egress"]] == [443]


def test_instance_refresh_is_canary_first_with_full_capacity_and_rollback(production):
    group = one(production, "aws:autoscaling/group:Group", "workers-group").inputs
    assert group["vpcZoneIdentifiers"] == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    refresh = group["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    preferences = refresh["preferences"]
    assert preferences["checkpointPercentages"] == [50, 100]  # the canary: one of two instances
    assert preferences["checkpointDelay"] == "600"
    assert preferences["minHealthyPercentage"] == 100
    assert preferences["maxHealthyPercentage"] == 200
    assert preferences["autoRollback"] is True
    template = one(production, "aws:ec2/launchTemplate:LaunchTemplate", "workers-launch-template")
    assert group["launchTemplate"] == {
        "id": template.outputs["id"],
        "version": str(template.outputs["latestVersion"]),
    }


@pytest.mark.parametrize(("desired", "canary"), [(1, 100), (2, 50), (3, 34), (4, 25)])
def test_the_canary_is_one_instance_share(desired, canary):
    stack = render_program(
        REPO_ROOT,
        "production",
        {"cis-file-pipeline:desiredWorkers": str(desired), "cis-file-pipeline:maxWorkers": "6"},
    )
    preferences = one(stack, "aws:autoscaling/group:Group", "workers-group").inputs["instanceRefresh"][
        "preferences"
    ]
    assert preferences["checkpointPercentages"] == sorted({canary, 100})


def evaluate_metric_math(metrics: list[dict], values: dict[str, float]) -> float:
    """Evaluate the policy's expression the way CloudWatch would for these metric values."""
    (expression,) = [m for m in metrics if m.get("returnData")]
    left, operator, right = expression["expression"].split()
    assert operator == "/"
    return values[left] / values[right]


def test_scaling_follows_backlog_per_instance(production):
    policy = one(production, "aws:autoscaling/policy:Policy", "workers-backlog-per-instance").inputs
    tracking = policy["targetTrackingConfiguration"]
    assert tracking["targetValue"] == 8
    metrics = tracking["customizedMetricSpecification"]["metrics"]
    by_id = {m["id"]: m for m in metrics}
    visible = by_id["visible"]["metricStat"]["metric"]
    assert (visible["namespace"], visible["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert visible["dimensions"] == [{"name": "QueueName", "value": "file-processing-queue-production"}]
    in_service = by_id["in_service"]["metricStat"]["metric"]
    assert in_service["dimensions"] == [
        {"name": "AutoScalingGroupName", "value": "cis-file-processor-production"}
    ]
    assert evaluate_metric_math(metrics, {"visible": 40, "in_service": 2}) == 20  # 2.5x the target: scale out
    assert evaluate_metric_math(metrics, {"visible": 8, "in_service": 4}) == 2  # below target: scale in
    group = one(production, "aws:autoscaling/group:Group", "workers-group").inputs
    assert "GroupInServiceInstances" in group["enabledMetrics"]  # the metric the math divides by


def test_production_with_the_fleet_passes_the_gate_and_the_gate_reads_the_fleet(production):
    assert evaluate(production.resources, load_policies()).mandatory_violations == []
    resources = copy.deepcopy(production.resources)
    for resource in resources:
        if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
            script = base64.b64decode(resource.inputs["userData"]).decode()
            script = script.replace("PROCESSING_TIMEOUT_SECONDS=900", "PROCESSING_TIMEOUT_SECONDS=1800")
            resource.inputs["userData"] = resource.outputs["userData"] = base64.b64encode(
                script.encode()
            ).decode()
    fired = {v.policy for v in evaluate(resources, load_policies()).mandatory_violations}
    assert "visibility-covers-processing" in fired


def listbucket_statements(document: dict) -> list[dict]:
    return [s for s in document["Statement"] if "s3:ListBucket" in s["Action"]]


def request_allowed_by(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    """IAM's reading of one Allow statement: a condition key absent from the request context does not
    match (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    if action not in actions or statement["Resource"] != resource:
        return False
    for operator, keys in statement.get("Condition", {}).items():
        for key, pattern in keys.items():
            if key not in context:
                return False
            if operator == "StringLike" and not fnmatch.fnmatchcase(context[key], pattern):
                return False
    return True


def test_the_worker_gets_404_for_a_missing_upload(production):
    """S3 answers 404 for a missing key only to a caller with s3:ListBucket on the bucket, judged for the
    GetObject request, whose context has no s3:prefix (GetObject API reference). So ListBucket must hold
    without an s3:prefix condition, on exactly the two buckets the worker reads."""
    document = worker_policy(production)
    by_sid = {s["Sid"]: s for s in listbucket_statements(document)}
    assert {sid: s["Resource"] for sid, s in by_sid.items()} == {
        "TellMissingUploadsFromDenied": "arn:aws:s3:::cis-filesearch-storage-production",
        "TellMissingIndexDocumentsFromDenied": "arn:aws:s3:::cis-filesearch-index-production",
    }
    get_object_context = {"aws:SecureTransport": "true"}  # what a GetObject request carries: no s3:prefix
    for bucket in ("cis-filesearch-storage-production", "cis-filesearch-index-production"):
        assert any(
            request_allowed_by(s, "s3:ListBucket", f"arn:aws:s3:::{bucket}", get_object_context)
            for s in by_sid.values()
        )
    # The previous statement, limited by s3:prefix, would not count for a GetObject request:
    prefixed = dict(
        by_sid["TellMissingUploadsFromDenied"], Condition={"StringLike": {"s3:prefix": "uploads/*"}}
    )
    resource = "arn:aws:s3:::cis-filesearch-storage-production"
    assert not request_allowed_by(prefixed, "s3:ListBucket", resource, get_object_context)
    assert request_allowed_by(prefixed, "s3:ListBucket", resource, {"s3:prefix": "uploads/a.pdf"})


def test_new_instances_wait_for_the_worker_and_a_silent_bootstrap_is_abandoned(production):
    hook = one(production, "aws:autoscaling/lifecycleHook:LifecycleHook", "workers-worker-ready").inputs
    assert hook["name"] == "worker-ready"
    assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["defaultResult"] == "ABANDON"
    group = one(production, "aws:autoscaling/group:Group", "workers-group").inputs
    (initial,) = group["initialLifecycleHooks"]
    assert {key: initial[key] for key in ("name", "lifecycleTransition", "defaultResult")} == {
        "name": "worker-ready",
        "lifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "defaultResult": "ABANDON",
    }
    assert group["instanceRefresh"]["preferences"]["autoRollback"] is True
    script = user_data(production)
    assert "--lifecycle-hook-name worker-ready" in script


def test_the_instances_install_exactly_the_locked_packages_ci_tests_with():
    """Every package of worker/requirements.lock carries a hash and the version the dev virtualenv
    (constraints.txt) tests the worker with; the top-level pins of requirements.txt agree with it."""
    lock = (REPO_ROOT / "worker" / "requirements.lock").read_text()
    requirements = [
        entry for entry in lock.replace("\\\n", " ").splitlines() if entry and not entry.startswith("#")
    ]
    locked = {}
    for requirement in requirements:
        name_version, *options = requirement.split()
        name, version = name_version.split("==")
        assert options and all(option.startswith("--hash=sha256:") for option in options), requirement
        locked[name] = version
    constraints = dict(
        line.split("==", 1)
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    normalized = {name.lower().replace("_", "-"): version for name, version in constraints.items()}
    assert {"boto3", "botocore", "pypdf", "s3transfer", "urllib3", "jmespath"} <= set(locked)
    for name, version in locked.items():
        assert normalized.get(name.lower()) == version, name
    for line in (REPO_ROOT / "worker" / "requirements.txt").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            assert locked[name] == version
    # The lock is part of the bundle, so its hash (in the launch template) covers the dependencies too.
    assert REPO_ROOT / "worker" / "requirements.lock" in bundle_files(REPO_ROOT / "worker")
