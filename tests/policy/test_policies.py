"""Each rule of the pack on minimal Pulumi programs run under mocks: one passing, one failing case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preview.gate import PolicyConfigError, evaluate, load_pack_config, load_policies
from tests.paths import REPO_ROOT
from tests.programs import PipelineProgram, fired, gate, write_program

TWO_NOTIFICATIONS = [[("s3:ObjectCreated:*", "uploads/")], [("s3:ObjectCreated:*", "uploads/")]]
OVERLAPPING_DESTINATIONS = [[("s3:ObjectCreated:*", "uploads/"), ("s3:ObjectCreated:Put", "uploads/big/")]]
DISJOINT_DESTINATIONS = [[("s3:ObjectCreated:*", "uploads/"), ("s3:ObjectCreated:*", "other/")]]


@pytest.mark.parametrize(
    ("policy", "breaking_change"),
    [
        ("one-notification-per-bucket", {"notifications": TWO_NOTIFICATIONS}),
        ("one-notification-per-bucket", {"notifications": OVERLAPPING_DESTINATIONS}),
        ("visibility-covers-processing", {"visibility": 300}),
        ("visibility-covers-processing", {"visibility": None}),
        ("dead-letter-queue-required", {"redrive": None}),
        ("dead-letter-queue-required", {"max_receive_count": 1}),
        ("dead-letter-queue-required", {"max_receive_count": 50}),
        ("dead-letter-queue-required", {"dlq_retention": 345600}),
        ("sqs-encryption-at-rest", {"encrypted": False}),
        ("queue-policy-source-conditions", {"queue_policy_conditions": False}),
        ("s3-public-access-blocked", {"public_access_block": False}),
        ("s3-tls-only", {"tls_policy": False}),
        ("work-queue-long-polling", {"receive_wait": 0}),
        ("dlq-is-alarmed", {"dlq_alarm": False}),
    ],
)
def test_pipeline_rule_fires_only_when_broken(tmp_path: Path, policy: str, breaking_change: dict):
    good = gate(tmp_path / "good", PipelineProgram(dlq_alarm=True).source())
    bad = gate(tmp_path / "bad", PipelineProgram(**{"dlq_alarm": True, **breaking_change}).source())
    assert policy not in fired(good)
    assert policy in fired(bad)


def test_redrive_as_a_separate_resource_counts(tmp_path: Path):
    result = gate(tmp_path, PipelineProgram(redrive="resource", dlq_alarm=True).source())
    assert fired(result) == set()


def test_disjoint_destinations_are_allowed(tmp_path: Path):
    result = gate(tmp_path, PipelineProgram(notifications=DISJOINT_DESTINATIONS, dlq_alarm=True).source())
    assert "one-notification-per-bucket" not in fired(result)


def test_eventbridge_beside_a_queue_is_a_second_delivery_path(tmp_path: Path):
    body = PipelineProgram(dlq_alarm=True).source().replace("queues=[", "eventbridge=True, queues=[")
    assert "one-notification-per-bucket" in fired(gate(tmp_path, body))


def test_redrive_target_outside_the_stack_is_rejected(tmp_path: Path):
    body = (
        PipelineProgram(dlq_alarm=True)
        .source()
        .replace(
            '"deadLetterTargetArn": arn',
            '"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere"',
        )
    )
    result = gate(tmp_path, body)
    messages = [v.message for v in result.violations if v.policy == "dead-letter-queue-required"]
    assert any("not a queue of this stack" in message for message in messages)


def test_policy_config_changes_thresholds(tmp_path: Path):
    """maxProcessingSeconds stands for consumers whose processing the stack does not show (a bare role)."""
    body = PipelineProgram(visibility=1000, dlq_alarm=True, consumer="role").source()
    assert "visibility-covers-processing" not in fired(gate(tmp_path / "a", body))
    strict = {"visibility-covers-processing": {"maxProcessingSeconds": 1200}}
    assert "visibility-covers-processing" in fired(gate(tmp_path / "b", body, strict))


def test_pack_config_sets_the_enforcement_level(tmp_path: Path):
    config_file = tmp_path / "config.json"
    config_file.write_text(
        '{"dlq-is-alarmed": "mandatory", "work-queue-long-polling": {"enforcementLevel": "disabled"}}'
    )
    config = load_pack_config(config_file, load_policies())
    result = gate(tmp_path / "program", PipelineProgram(receive_wait=0).source(), config)
    assert [v.level for v in result.violations if v.policy == "dlq-is-alarmed"] == ["mandatory"]
    assert "work-queue-long-polling" not in fired(result)


def test_pack_config_naming_an_unknown_policy_is_an_error(tmp_path: Path):
    config_file = tmp_path / "config.json"
    config_file.write_text('{"visiblity-covers-processing": {"maxProcessingSeconds": 900}}')
    with pytest.raises(PolicyConfigError, match="no policy named 'visiblity-covers-processing'"):
        load_pack_config(config_file, load_policies())


IAM_PROGRAM = """
queue_arn = "arn:aws:sqs:us-east-1:123456789012:test-queue"
aws.iam.Policy("consumer", policy=json.dumps({{"Version": "2012-10-17", "Statement": [
    {{"Effect": "Allow", "Action": {actions}, "Resource": queue_arn}}]}}))
"""


@pytest.mark.parametrize(
    ("actions", "fires"),
    [
        (["sqs:ReceiveMessage"], True),  # the incident's worker
        (["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"], True),
        (["sqs:ReceiveMessage", "sqs:DeleteMessage"], True),
        (["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], False),
        (["sqs:*"], False),
        (["sqs:SendMessage"], False),
    ],
)
def test_consumer_can_delete(tmp_path: Path, actions: list[str], fires: bool):
    result = gate(tmp_path, IAM_PROGRAM.format(actions=actions))
    assert ("consumer-can-delete" in fired(result)) is fires


def test_consumer_can_delete_sees_an_explicit_deny(tmp_path: Path):
    body = """
    aws.iam.RolePolicy("consumer", role="worker", policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": "*"}]}))
    """
    assert "consumer-can-delete" in fired(gate(tmp_path, body))


WORKER_PROGRAM = """
queue = aws.sqs.Queue("queue", name="q", visibility_timeout_seconds=900, sqs_managed_sse_enabled=True,
    receive_wait_time_seconds=20)
env = queue.url.apply(lambda url: "\\n".join([
    "cat > /etc/file-processor.env <<EOF",
    f"QUEUE_URL={{url}}",
    "PROCESSING_TIMEOUT_SECONDS={timeout}",
    "INDEX_BUCKET={index_bucket}",
    "INDEX_PREFIX={index_prefix}",
    "EOF"]))
aws.ec2.LaunchTemplate("workers", image_id="ami-1", user_data=env.apply(lambda t: base64.b64encode(t.encode()).decode()),
    metadata_options={{"http_tokens": "{tokens}"}})
bucket = aws.s3.Bucket("uploads", bucket="uploads-bucket")
aws.s3.BucketNotification("n", bucket=bucket.id, queues=[aws.s3.BucketNotificationQueueArgs(
    queue_arn=queue.arn, events=["s3:ObjectCreated:*"], filter_prefix="uploads/")])
"""


def worker_program(
    timeout=900, index_bucket="index-bucket", index_prefix="documents/", tokens="required"
) -> str:
    return WORKER_PROGRAM.format(
        timeout=timeout, index_bucket=index_bucket, index_prefix=index_prefix, tokens=tokens
    )


def test_worker_processing_timeout_must_fit_the_queue_visibility(tmp_path: Path):
    assert "visibility-covers-processing" not in fired(gate(tmp_path / "a", worker_program(timeout=900)))
    result = gate(tmp_path / "b", worker_program(timeout=1800))
    messages = [v.message for v in result.violations if v.policy == "visibility-covers-processing"]
    assert any("PROCESSING_TIMEOUT_SECONDS" in message for message in messages)


def test_no_recursive_trigger(tmp_path: Path):
    assert "no-recursive-trigger" not in fired(gate(tmp_path / "a", worker_program()))
    same_bucket_other_prefix = worker_program(index_bucket="uploads-bucket", index_prefix="documents/")
    assert "no-recursive-trigger" not in fired(gate(tmp_path / "b", same_bucket_other_prefix))
    under_watched_prefix = worker_program(index_bucket="uploads-bucket", index_prefix="uploads/index/")
    assert "no-recursive-trigger" in fired(gate(tmp_path / "c", under_watched_prefix))


def test_launch_templates_require_imdsv2(tmp_path: Path):
    assert "launch-template-imdsv2" not in fired(gate(tmp_path / "a", worker_program(tokens="required")))
    assert "launch-template-imdsv2" in fired(gate(tmp_path / "b", worker_program(tokens="optional")))


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        (
            'aws.ec2.SecurityGroup("sg", egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}])',
            False,
        ),
        (
            'aws.ec2.SecurityGroup("sg", ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}])',
            True,
        ),
        (
            'aws.ec2.SecurityGroup("sg", ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "ipv6_cidr_blocks": ["::/0"]}])',
            True,
        ),
        (
            'aws.ec2.SecurityGroup("sg", ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}])',
            False,
        ),
        (
            'aws.vpc.SecurityGroupIngressRule("r", security_group_id="sg-1", ip_protocol="tcp", from_port=22, to_port=22, cidr_ipv4="0.0.0.0/0")',
            True,
        ),
        (
            'aws.ec2.SecurityGroupRule("r", type="ingress", security_group_id="sg-1", protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"])',
            True,
        ),
    ],
)
def test_no_open_ingress(tmp_path: Path, body: str, fires: bool):
    assert ("no-open-ingress" in fired(gate(tmp_path, body + "\n"))) is fires


INCIDENTS = {
    "two notifications on the bucket": PipelineProgram(notifications=TWO_NOTIFICATIONS),
    "visibility 300 s with 900 s processing": PipelineProgram(visibility=300),
    "no dead-letter queue": PipelineProgram(redrive=None),
}


INCIDENT_POLICIES = {
    "two notifications on the bucket": "one-notification-per-bucket",
    "visibility 300 s with 900 s processing": "visibility-covers-processing",
    "no dead-letter queue": "dead-letter-queue-required",
}


@pytest.mark.slow
@pytest.mark.parametrize("incident", list(INCIDENTS))
def test_each_incident_configuration_fails_the_gate(tmp_path: Path, incident: str):
    program = write_program(tmp_path, INCIDENTS[incident].source())
    result = subprocess.run(
        [sys.executable, "-m", "preview", "--program", str(program), "--stack", "dev", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[mandatory]" not in result.stdout  # JSON mode prints only JSON
    assert '"level": "mandatory"' in result.stdout
    blocking = {v["policy"] for v in json.loads(result.stdout)["violations"] if v["level"] == "mandatory"}
    assert INCIDENT_POLICIES[incident] in blocking, blocking  # the rule that names this incident fires


def test_production_passes_with_no_violation(production):
    """Zero violations, except the one AWS defect the program itself must fix: alarms publishing to a topic
    encrypted with alias/aws/sns are never delivered (the program's fix lands with its own change)."""
    result = evaluate(production.resources, load_policies())
    assert result.policies_evaluated == len(load_policies())
    assert result.could_not_run == []
    assert [v for v in result.violations if v.policy != "alarms-reach-someone"] == []
    undeliverable = {
        r.urn
        for r in production.of_type("aws:sns/topic:Topic")
        if str(r.inputs.get("kmsMasterKeyId", "")).endswith("alias/aws/sns")
    }
    assert {v.urn for v in result.violations if v.policy == "alarms-reach-someone"} == undeliverable


def test_benchmark_stack_is_compliant_and_exactly_sized():
    from bench.policy import synthetic_stack

    resources = synthetic_stack(1_000)
    assert len(resources) == 1_000
    assert evaluate(resources, load_policies()).violations == []
