"""The live audit against the production data plane in moto, broken the way an operator under pressure
would: each breakage fails the audit with one plain line, a healthy deployment stays clean."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto.backends import get_backend

from audit.__main__ import main
from sandbox.local_aws import REGION
from tests.audit.conftest import DLQ, GROUP, QUEUE, UPLOADS, Deployment

pytestmark = pytest.mark.slow  # moto server

DLQ_ALARM = "cis-file-pipeline-production-dlq-has-messages"


def run(capsys, *arguments: str) -> tuple[int, str]:
    code = main(["--stack", "production", *arguments])
    return code, capsys.readouterr().out


def audit_json(capsys, *arguments: str) -> tuple[int, dict]:
    code = main(["--stack", "production", "--json", *arguments])
    return code, json.loads(capsys.readouterr().out)


def policies(report: dict) -> set[str]:
    return {violation["policy"] for violation in report["violations"]}


def mandatory(report: dict) -> list[str]:
    return [f"{f['resource']}: {f['message']}" for f in report["findings"] if f["level"] == "mandatory"]


def verdicts(report: dict) -> dict[str, str]:
    return {check["name"]: check["verdict"] for check in report["success_metrics"]}


def operator_sets(deployment: Deployment, queue: str, **attributes: str) -> None:
    """SetQueueAttributes as on AWS, where it leaves the queue policy alone: moto 5.2 clears `Policy`
    on any SetQueueAttributes that does not name it, so the current one is sent along."""
    url = deployment.url(queue)
    current = deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    policy = {"Policy": current["Policy"]} if "Policy" in current else {}
    deployment.sqs.set_queue_attributes(QueueUrl=url, Attributes={**policy, **attributes})


def declared_notification(deployment: Deployment, *extra: dict) -> dict:
    declared = {
        "Id": "declared",
        "QueueArn": deployment.arn(QUEUE),
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }
    return {"QueueConfigurations": [declared, *extra]}


# --- healthy -------------------------------------------------------------------------------------------


def test_healthy_deployment_is_clean(deployment, capsys):
    code, report = audit_json(capsys)
    assert code == 0, report
    assert report["violations"] == [] and report["findings"] == []
    assert report["baseline"]["in_service_instances"] == 2
    assert verdicts(report) == {
        "DLQ empty": "PASS",
        "no MessageDeleteFailed": "NO DATA",
        "success rate >= 95 %": "NO DATA",
        "indexing lag < 5 min": "NO DATA",
        "workers in service while there is a backlog": "PASS",
    }
    assert any("moto 5.2 publishes no AWS/SQS metrics" in note for note in report["notes"])


def test_healthy_text_report_says_passed_and_what_had_no_data(deployment, capsys):
    code, out = run(capsys)
    assert code == 0
    assert out.splitlines()[-1] == "Audit passed (3 checks without data)."
    assert "    [NO DATA] indexing lag < 5 min: no oldest message age (and no backlog)" in out


# --- whatever stops uploads being indexed ---------------------------------------------------------------


def test_notification_removed_fails(deployment, capsys):
    deployment.s3.put_bucket_notification_configuration(Bucket=UPLOADS, NotificationConfiguration={})
    code, out = run(capsys)
    assert code == 1
    assert (
        f"    [mandatory] bucket {UPLOADS}: no event notification to {QUEUE}: uploads are not indexed" in out
    )
    assert out.splitlines()[-1] == "Audit FAILED: 1 mandatory finding."


def test_notification_pointed_at_another_queue_fails(deployment, capsys):
    other = deployment.sqs.create_queue(QueueName="file-processing-queue-staging")["QueueUrl"]
    other_arn = deployment.sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    configuration = declared_notification(deployment)
    configuration["QueueConfigurations"][0]["QueueArn"] = other_arn
    deployment.s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration=configuration
    )
    code, out = run(capsys)
    assert code == 1
    assert (
        f"    [mandatory] bucket {UPLOADS}: notification sends to file-processing-queue-staging instead of "
        f"{QUEUE}: uploads are not indexed" in out
    )


def test_upload_bucket_deleted_fails(deployment, capsys):
    s3 = deployment.s3
    for version in s3.list_object_versions(Bucket=UPLOADS).get("Versions", []):
        s3.delete_object(Bucket=UPLOADS, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=UPLOADS)
    code, out = run(capsys)
    assert code == 1
    assert f"    [mandatory] bucket {UPLOADS}: not found: uploads are not stored or indexed" in out


def test_auto_scaling_group_deleted_fails(deployment, capsys):
    deployment.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=GROUP, ForceDelete=True)
    code, report = audit_json(capsys)
    assert code == 1
    assert mandatory(report) == [
        f"auto scaling group {GROUP}: not found in ap-northeast-1: no worker processes the queue"
    ]
    assert verdicts(report)["workers in service while there is a backlog"] == "NO DATA"


def test_wrong_region_where_nothing_is_found_fails(deployment, capsys):
    code, out = run(capsys, "--region", "us-west-2")
    assert code == 1
    assert (
        "    [mandatory] region us-west-2: none of the stack's queues, alarms or Auto Scaling Group exist "
        "here (the stack declares ap-northeast-1): wrong region or account?" in out
    )
    assert f"    [mandatory] queue {QUEUE} (work queue): not found in us-west-2" in out
    assert "    [FAIL] DLQ empty: the DLQ file-processing-dlq-production was not found or not readable" in out


def test_work_queue_deleted_fails(deployment, capsys):
    deployment.sqs.delete_queue(QueueUrl=deployment.url(QUEUE))
    code, report = audit_json(capsys)
    assert code == 1
    assert (
        f"queue {QUEUE} (work queue): not found in ap-northeast-1: uploads are not queued or processed"
        in mandatory(report)
    )


def test_queue_policy_removed_fails(deployment, capsys):
    deployment.sqs.set_queue_attributes(QueueUrl=deployment.url(QUEUE), Attributes={"Policy": ""})
    code, out = run(capsys)
    assert code == 1
    assert (
        f"    [mandatory] queue {QUEUE} (work queue): queue policy no longer lets bucket {UPLOADS} send "
        "(sqs:SendMessage from s3.amazonaws.com): uploads are not queued" in out
    )


def test_queue_policy_for_another_bucket_fails(deployment, capsys):
    url = deployment.url(QUEUE)
    document = json.loads(
        deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["Policy"]
    )
    document["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] = (
        "arn:aws:s3:::cis-filesearch-storage-staging"
    )
    deployment.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
    code, report = audit_json(capsys)
    assert code == 1
    assert any("queue policy no longer lets bucket" in line for line in mandatory(report))


def test_queue_policy_with_a_deny_for_s3_fails(deployment, capsys):
    url = deployment.url(QUEUE)
    document = json.loads(
        deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["Policy"]
    )
    document["Statement"].append(
        {
            "Sid": "Quarantine",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": deployment.arn(QUEUE),
        }
    )
    deployment.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
    code, report = audit_json(capsys)
    assert code == 1
    assert any("queue policy no longer lets bucket" in line for line in mandatory(report))


def test_queue_policy_with_an_extra_grant_is_advisory_drift(deployment, capsys):
    url = deployment.url(QUEUE)
    document = json.loads(
        deployment.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["Policy"]
    )
    document["Statement"].append(
        {
            "Sid": "ReadForDebugging",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/debug"},
            "Action": "sqs:ReceiveMessage",
            "Resource": deployment.arn(QUEUE),
        }
    )
    deployment.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
    code, report = audit_json(capsys)
    assert code == 0, report
    (finding,) = report["findings"]
    assert (finding["level"], finding["setting"]) == ("advisory", "policy")
    assert finding["message"].endswith(
        "0 declared statement(s) changed or removed, 1 undeclared statement(s)"
    )


# --- safeguards removed ---------------------------------------------------------------------------------


def test_dlq_deleted_fails_and_is_not_called_empty(deployment, capsys):
    deployment.sqs.delete_queue(QueueUrl=deployment.url(DLQ))
    code, out = run(capsys)
    assert code == 1
    assert (
        f"    [mandatory] queue {DLQ} (dead-letter queue): not found in ap-northeast-1: "
        "failing messages have nowhere to go" in out
    )
    assert f"    [FAIL] DLQ empty: the DLQ {DLQ} was not found or not readable" in out
    assert "0 messages" not in out


def test_a_second_notification_configuration_fails(deployment, capsys):
    console_copy = {
        "Id": "added-in-the-console",
        "QueueArn": deployment.arn(QUEUE),
        "Events": ["s3:ObjectCreated:Put"],
    }
    deployment.s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration=declared_notification(deployment, console_copy)
    )
    code, report = audit_json(capsys)
    assert code == 1
    assert "one-notification-per-bucket" in policies(report)
    assert mandatory(report) == [
        f"bucket {UPLOADS}: 2 notification configurations where the stack declares 1: "
        "each upload can be queued more than once"
    ]


def test_visibility_lowered_to_300_fails(deployment, capsys):
    operator_sets(deployment, QUEUE, VisibilityTimeout="300")
    code, report = audit_json(capsys)
    assert code == 1
    assert policies(report) == {"visibility-covers-processing"}
    assert mandatory(report) == [
        f"queue {QUEUE} (work queue): visibilityTimeoutSeconds is 300, the stack declares 900"
    ]


def test_redrive_policy_removed_judges_the_dlq_as_the_stack_declares_it(deployment, capsys):
    # No redrive-allow policy either (plain moto, or an account that never set one): only the
    # declared stack says which queue is the DLQ.
    del deployment.redrive_allow.policies[deployment.url(DLQ)]
    operator_sets(deployment, QUEUE, RedrivePolicy="")
    code, report = audit_json(capsys)
    assert code == 1
    assert "dead-letter-queue-required" in policies(report)
    flagged = {
        violation["urn"].rsplit("::", 1)[-1]
        for violation in report["violations"]
        if violation["policy"] == "dead-letter-queue-required"
    }
    assert flagged == {QUEUE}, report["violations"]  # the DLQ is not told to get a DLQ of its own
    assert mandatory(report) == [
        f"queue {QUEUE} (work queue): redrive policy removed: failing messages are no longer moved to {DLQ}"
    ]


def test_max_receive_count_1_and_short_dlq_retention_fail(deployment, capsys):
    redrive = json.dumps({"deadLetterTargetArn": deployment.arn(DLQ), "maxReceiveCount": 1})
    operator_sets(deployment, QUEUE, RedrivePolicy=redrive)
    operator_sets(deployment, DLQ, MessageRetentionPeriod="345600")
    code, report = audit_json(capsys)
    assert code == 1
    assert mandatory(report) == [
        f"queue {DLQ} (dead-letter queue): messageRetentionSeconds is 345600, the stack declares 1209600",
        f"queue {QUEUE} (work queue): maxReceiveCount is 1, the stack declares 3",
    ]


def test_redrive_allow_policy_denying_the_work_queue_fails(deployment, capsys):
    deployment.redrive_allow.policies[deployment.url(DLQ)] = json.dumps({"redrivePermission": "denyAll"})
    code, out = run(capsys)
    assert code == 1
    assert (
        f"    [mandatory] queue {DLQ} (dead-letter queue): redrive-allow policy no longer lets {QUEUE} "
        "use it as its dead-letter queue" in out
    )


def test_redrive_allow_policy_removed_is_advisory(deployment, capsys):
    del deployment.redrive_allow.policies[deployment.url(DLQ)]
    code, out = run(capsys)
    assert code == 0
    assert (
        f"    [advisory] queue {DLQ} (dead-letter queue): redrive-allow policy removed: "
        "any queue may use it as its dead-letter queue" in out
    )
    assert out.splitlines()[-1] == "Audit passed (1 advisory finding; 3 checks without data)."


def test_public_access_block_removed_fails(deployment, capsys):
    deployment.s3.delete_public_access_block(Bucket=UPLOADS)
    code, report = audit_json(capsys)
    assert code == 1
    assert f"bucket {UPLOADS}: public access block removed" in mandatory(report)


def test_public_access_block_loosened_fails(deployment, capsys):
    settings = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    deployment.s3.put_public_access_block(Bucket=UPLOADS, PublicAccessBlockConfiguration=settings)
    code, report = audit_json(capsys)
    assert code == 1
    assert f"bucket {UPLOADS}: public access block BlockPublicPolicy turned off" in mandatory(report)


def test_bucket_policy_removed_fails(deployment, capsys):
    deployment.s3.delete_bucket_policy(Bucket=UPLOADS)
    code, report = audit_json(capsys)
    assert code == 1
    assert f"bucket {UPLOADS}: bucket policy removed" in mandatory(report)
    assert "s3-tls-only" in policies(report)


def test_dlq_alarm_deleted_fails(deployment, capsys):
    deployment.cloudwatch.delete_alarms(AlarmNames=[DLQ_ALARM])
    code, report = audit_json(capsys)
    assert code == 1
    assert [v["level"] for v in report["violations"] if v["policy"] == "dlq-is-alarmed"] == ["mandatory"]
    assert mandatory(report) == [f"alarm {DLQ_ALARM}: not found in ap-northeast-1"]


def test_eventbridge_destination_beside_the_queue_fails(deployment, capsys, monkeypatch):
    configuration = {**declared_notification(deployment), "EventBridgeConfiguration": {}}
    deployment.s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration=configuration
    )
    import audit.__main__ as audit_main

    connect = audit_main.connect

    def as_s3_returns_it(parsed, **_):
        """moto stores EventBridgeConfiguration but leaves it out of its answer; S3 returns it (as {})."""
        parsed["EventBridgeConfiguration"] = {}

    def connect_with_eventbridge(*args, **kwargs):
        made = connect(*args, **kwargs)
        made.s3.meta.events.register("after-call.s3.GetBucketNotificationConfiguration", as_s3_returns_it)
        return made

    monkeypatch.setattr(audit_main, "connect", connect_with_eventbridge)
    code, report = audit_json(capsys)
    assert code == 1
    assert any(
        v["policy"] == "one-notification-per-bucket" and "EventBridge" in v["message"]
        for v in report["violations"]
    )
    assert mandatory(report) == [
        f"bucket {UPLOADS}: EventBridge delivery on, which the stack does not declare: uploads delivered twice"
    ]


# --- no data is not a pass ------------------------------------------------------------------------------


def test_backlog_with_nothing_processed_fails(deployment, capsys):
    # 500 uploads' messages, put straight into moto's queue (50 SendMessageBatch calls cost seconds).
    queues = get_backend("sqs")[deployment.arn(QUEUE).split(":")[4]][REGION]  # type: ignore[index]
    for n in range(500):
        queues.send_message(QUEUE, f"waiting {n}")
    code, out = run(capsys)
    assert code == 1
    assert (
        "    [FAIL] success rate >= 95 %: no worker metrics while 500 message(s) wait: "
        "the backlog is not being worked" in out
    )
    assert (
        "    [FAIL] indexing lag < 5 min: no oldest message age while 500 message(s) wait: "
        "the backlog is not being worked" in out
    )
    assert "    [PASS] DLQ empty: 0 messages" in out
    assert out.splitlines()[-1] == "Audit FAILED: 2 failed success checks."


def test_report_numbers_are_what_the_queues_and_metrics_hold(deployment, capsys):
    sqs, cloudwatch = deployment.sqs, deployment.cloudwatch
    for n in range(7):
        sqs.send_message(QueueUrl=deployment.url(QUEUE), MessageBody=f"waiting {n}")
    for n in range(2):
        sqs.send_message(QueueUrl=deployment.url(DLQ), MessageBody=f"poison {n}")
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
    assert verdicts(report) == {
        "DLQ empty": "FAIL",
        "no MessageDeleteFailed": "PASS",
        "success rate >= 95 %": "PASS",
        "indexing lag < 5 min": "FAIL",  # 7 wait and moto publishes no AWS/SQS age: not a pass
        "workers in service while there is a backlog": "PASS",
    }
    assert code == 1


def test_watch_prints_the_trend(deployment, capsys):
    code = main(["--stack", "production", "--watch", "0.1", "--count", "2"])
    lines = [line for line in capsys.readouterr().out.splitlines() if "queue" in line]
    assert code == 0 and len(lines) == 2
    assert "queue 0 (+0)" in lines[1]
