"""The live audit against a production deployment in moto: healthy passes, each drift is caught by
the right policy, --fix-notifications repairs only behind its flag, the numbers are moto's."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest

from audit.__main__ import Auditor, main
from preview.render import render_program
from sandbox.data_plane import deploy
from sandbox.local_aws import REGION, client, clients, local_environment, moto_server
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # moto server

UPLOADS = "cis-filesearch-storage-production"
QUEUE, DLQ = "file-processing-queue-production", "file-processing-dlq-production"


@pytest.fixture(scope="module")
def stack():
    return render_program(REPO_ROOT, "production")


@pytest.fixture
def deployment(stack, monkeypatch):
    """A healthy production deployment in a fresh moto server; yields (s3, sqs, cloudwatch, plane)."""
    with moto_server() as endpoint:
        for key, value in local_environment(endpoint).items():
            monkeypatch.setenv(key, value)
        s3, sqs, cloudwatch = clients(endpoint)
        plane = deploy(
            stack,
            s3,
            sqs,
            cloudwatch,
            REGION,
            ec2=client(endpoint, "ec2"),
            autoscaling=client(endpoint, "autoscaling"),
        )
        sqs.purge_queue(QueueUrl=plane.queue_urls[QUEUE])  # the s3:TestEvent
        yield s3, sqs, cloudwatch, plane


def audit_json(capsys, *arguments: str) -> tuple[int, dict]:
    code = main(["--stack", "production", "--json", *arguments])
    return code, json.loads(capsys.readouterr().out)


def policies(report: dict) -> set[str]:
    return {violation["policy"] for violation in report["violations"]}


def test_healthy_deployment_passes(deployment, capsys):
    code, report = audit_json(capsys)
    assert code == 0, report
    assert report["violations"] == [] and report["drift"] == [] and report["missing"] == []
    assert report["baseline"]["in_service_instances"] == 2


def notification_with(sqs, plane, *extra: dict) -> dict:
    queue_arn = plane.queue_arns[QUEUE]
    declared = {
        "Id": "declared",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }
    return {"QueueConfigurations": [declared, *extra]}


def test_a_second_notification_configuration_is_caught(deployment, capsys):
    s3, sqs, _, plane = deployment
    console_copy = {
        "Id": "added-in-the-console",
        "QueueArn": plane.queue_arns[QUEUE],
        "Events": ["s3:ObjectCreated:Put"],
    }
    s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration=notification_with(sqs, plane, console_copy)
    )
    code, report = audit_json(capsys)
    assert code == 1
    assert "one-notification-per-bucket" in policies(report)
    (drift,) = [d for d in report["drift"] if d["setting"] == "notification queue configurations"]
    assert len(drift["declared"]) == 1 and len(drift["live"]) == 2


def test_visibility_lowered_to_300_is_caught(deployment, capsys):
    _, sqs, _, plane = deployment
    sqs.set_queue_attributes(QueueUrl=plane.queue_urls[QUEUE], Attributes={"VisibilityTimeout": "300"})
    code, report = audit_json(capsys)
    assert code == 1
    assert policies(report) == {"visibility-covers-processing"}
    assert {
        "resource": f"queue {QUEUE}",
        "setting": "visibilityTimeoutSeconds",
        "declared": 900,
        "live": 300,
    } in report["drift"]


def test_redrive_policy_removed_is_caught(deployment, capsys):
    _, sqs, _, plane = deployment
    sqs.set_queue_attributes(QueueUrl=plane.queue_urls[QUEUE], Attributes={"RedrivePolicy": ""})
    code, report = audit_json(capsys)
    assert code == 1
    assert "dead-letter-queue-required" in policies(report)
    assert any(d["setting"] == "redrivePolicy" and d["live"] is None for d in report["drift"])


def test_dlq_alarm_deleted_is_caught(deployment, capsys):
    _, _, cloudwatch, _ = deployment
    cloudwatch.delete_alarms(AlarmNames=["cis-file-pipeline-production-dlq-has-messages"])
    code, report = audit_json(capsys)
    assert code == 1
    assert [v["level"] for v in report["violations"] if v["policy"] == "dlq-is-alarmed"] == ["mandatory"]
    assert {
        "resource": "alarm cis-file-pipeline-production-dlq-has-messages",
        "setting": "exists",
        "declared": True,
        "live": False,
    } in report["drift"]


def test_eventbridge_destination_beside_the_queue_is_caught(deployment):
    s3, sqs, _, plane = deployment
    configuration = {**notification_with(sqs, plane), "EventBridgeConfiguration": {}}
    s3.put_bucket_notification_configuration(Bucket=UPLOADS, NotificationConfiguration=configuration)
    auditor = Auditor(argparse.Namespace(program=REPO_ROOT, stack="production", policy_config=None))

    def as_s3_returns_it(parsed, **_):
        """moto stores EventBridgeConfiguration but leaves it out of its answer; S3 returns it (as {})."""
        parsed["EventBridgeConfiguration"] = {}

    auditor.s3.meta.events.register("after-call.s3.GetBucketNotificationConfiguration", as_s3_returns_it)
    report = auditor.audit()
    assert not report["passed"]
    assert any(
        v["policy"] == "one-notification-per-bucket" and "EventBridge" in v["message"]
        for v in report["violations"]
    )
    assert any(d["setting"] == "notification EventBridge delivery" for d in report["drift"])


def test_fix_notifications_restores_one_configuration_with_a_backup(deployment, capsys, tmp_path):
    s3, sqs, _, plane = deployment
    duplicate = {"Id": "duplicate", "QueueArn": plane.queue_arns[QUEUE], "Events": ["s3:ObjectCreated:*"]}
    s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration=notification_with(sqs, plane, duplicate)
    )

    main(["--stack", "production", "--json"])  # without the flag: read-only
    capsys.readouterr()
    assert len(s3.get_bucket_notification_configuration(Bucket=UPLOADS)["QueueConfigurations"]) == 2
    assert not (tmp_path / "backups").exists()

    code = main(["--stack", "production", "--fix-notifications", "--backup-dir", str(tmp_path / "backups")])
    output = capsys.readouterr().out
    assert code == 0, output
    live = s3.get_bucket_notification_configuration(Bucket=UPLOADS)["QueueConfigurations"]
    assert len(live) == 1
    assert (live[0]["QueueArn"], live[0]["Events"]) == (plane.queue_arns[QUEUE], ["s3:ObjectCreated:*"])
    (backup,) = (tmp_path / "backups").iterdir()
    assert len(json.loads(backup.read_text())["QueueConfigurations"]) == 2
    assert '-      "Id": "duplicate",' in output  # the printed diff


def test_report_numbers_are_what_the_queues_and_metrics_hold(deployment, capsys):
    _, sqs, cloudwatch, plane = deployment
    for n in range(7):
        sqs.send_message(QueueUrl=plane.queue_urls[QUEUE], MessageBody=f"waiting {n}")
    for n in range(2):
        sqs.send_message(QueueUrl=plane.queue_urls[DLQ], MessageBody=f"poison {n}")
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="CISFileSearch/Worker",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "QueueName", "Value": QUEUE}],
                "Value": value,
                "Unit": "Count",
                "Timestamp": now,
            }
            for name, value in (
                ("MessagesProcessed", 39),
                ("MessageProcessingFailed", 1),
                ("MessagesDeadLettered", 1),
                ("MessageDeleteFailed", 0),
            )
        ],
    )
    code, report = audit_json(capsys)
    baseline = report["baseline"]
    assert (baseline["queue_visible"], baseline["queue_in_flight"], baseline["dlq_visible"]) == (7, 0, 2)
    assert baseline["worker_metrics_last_hour"] == {
        "MessagesProcessed": 39,
        "MessageProcessingFailed": 1,
        "MessagesDeadLettered": 1,
        "MessageDeleteFailed": 0,
    }
    assert baseline["success_rate_percent"] == 97.5
    failed = [check["name"] for check in report["success_metrics"] if not check["passed"]]
    assert failed == ["DLQ empty"] and code == 1


def test_watch_prints_the_trend(deployment, capsys):
    code = main(["--stack", "production", "--watch", "0.1", "--count", "2"])
    lines = [line for line in capsys.readouterr().out.splitlines() if "queue" in line]
    assert code == 0 and len(lines) == 2
    assert "queue 0 (+0)" in lines[1]
