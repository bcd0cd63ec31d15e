"""--fix-notifications against the production data plane in moto: a dry run shows the diff, a write
needs --yes or a yes at the prompt, nothing is written (and no test event sent) when nothing differs,
backups only of what exists, a missing bucket or queue is one line, --json stays one document."""

from __future__ import annotations

import io
import json

import pytest

from audit.__main__ import main
from tests.audit.conftest import QUEUE, UPLOADS, Deployment, drain

pytestmark = pytest.mark.slow  # moto server


def duplicate_notification(deployment: Deployment) -> None:
    declared = {
        "Id": "declared",
        "QueueArn": deployment.arn(QUEUE),
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }
    duplicate = {"Id": "duplicate", "QueueArn": deployment.arn(QUEUE), "Events": ["s3:ObjectCreated:*"]}
    deployment.s3.put_bucket_notification_configuration(
        Bucket=UPLOADS, NotificationConfiguration={"QueueConfigurations": [declared, duplicate]}
    )
    drain(deployment.sqs, deployment.url(QUEUE))  # moto's s3:TestEvent


def live_configurations(deployment: Deployment) -> list[dict]:
    return deployment.s3.get_bucket_notification_configuration(Bucket=UPLOADS).get("QueueConfigurations", [])


def waiting(deployment: Deployment) -> int:
    attributes = deployment.sqs.get_queue_attributes(
        QueueUrl=deployment.url(QUEUE), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def fix(capsys, tmp_path, *arguments: str) -> tuple[int, str]:
    code = main(
        [
            "--stack",
            "production",
            "--fix-notifications",
            "--backup-dir",
            str(tmp_path / "backups"),
            *arguments,
        ]
    )
    return code, capsys.readouterr().out


def test_dry_run_shows_the_diff_and_writes_nothing(deployment, capsys, tmp_path):
    duplicate_notification(deployment)
    code, out = fix(capsys, tmp_path, "--dry-run")
    assert code == 1  # the audit that follows still sees the duplicate
    assert f"dry run: the notification of bucket {UPLOADS} would become:" in out
    assert '-      "Id": "duplicate",' in out
    assert len(live_configurations(deployment)) == 2
    assert not (tmp_path / "backups").exists()


def test_without_yes_and_without_a_terminal_nothing_is_written(deployment, capsys, tmp_path, monkeypatch):
    duplicate_notification(deployment)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a TTY: never read
    code, out = fix(capsys, tmp_path)
    assert code == 1
    assert (
        f"not written: the notification of bucket {UPLOADS} differs; pass --yes to write it "
        "(--dry-run shows the difference only)" in out
    )
    assert len(live_configurations(deployment)) == 2
    assert not (tmp_path / "backups").exists()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_an_answer_at_the_prompt_writes(deployment, capsys, tmp_path, monkeypatch):
    duplicate_notification(deployment)
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    main(["--stack", "production", "--fix-notifications", "--backup-dir", str(tmp_path / "backups")])
    captured = capsys.readouterr()
    assert f"Write the declared notification to bucket {UPLOADS}? [y/N]" in captured.err
    assert f"rewrote the notification of bucket {UPLOADS}" in captured.out
    assert len(live_configurations(deployment)) == 1


def test_yes_writes_the_declared_configuration_with_a_backup(deployment, capsys, tmp_path):
    duplicate_notification(deployment)
    code, out = fix(capsys, tmp_path, "--yes")
    (live,) = live_configurations(deployment)
    assert (live["QueueArn"], live["Events"]) == (deployment.arn(QUEUE), ["s3:ObjectCreated:*"])
    (backup,) = (tmp_path / "backups").iterdir()
    assert len(json.loads(backup.read_text())["QueueConfigurations"]) == 2
    assert f"rewrote the notification of bucket {UPLOADS}; backup: {backup}" in out
    # The audit after the write: no drift left; the one message waiting is the s3:TestEvent S3 sent,
    # and with no worker metrics a waiting message is not a pass.
    assert "Drift and missing resources (declared -> live):\n    none" in out
    assert waiting(deployment) == 1
    assert code == 1 and out.splitlines()[-1] == "Audit FAILED: 2 failed success checks."


def test_nothing_is_written_when_nothing_differs(deployment, capsys, tmp_path):
    code, out = fix(capsys, tmp_path, "--yes")
    assert code == 0, out
    assert f"the notification of bucket {UPLOADS} already is the declared one: nothing written" in out
    assert not (tmp_path / "backups").exists()
    assert waiting(deployment) == 0  # no write, so no s3:TestEvent in the queue


def test_a_removed_notification_is_restored_without_an_empty_backup(deployment, capsys, tmp_path):
    deployment.s3.put_bucket_notification_configuration(Bucket=UPLOADS, NotificationConfiguration={})
    code, out = fix(capsys, tmp_path, "--yes")
    assert "there was no configuration to back up" in out
    assert len(live_configurations(deployment)) == 1
    assert not (tmp_path / "backups").exists()


def test_a_missing_target_queue_is_one_line(deployment, capsys, tmp_path):
    deployment.sqs.delete_queue(QueueUrl=deployment.url(QUEUE))
    code, out = fix(capsys, tmp_path, "--yes")
    assert code == 1
    assert (
        f"cannot fix the notification of bucket {UPLOADS}: its target queue {QUEUE} does not exist "
        "in ap-northeast-1" in out.splitlines()
    )
    assert not (tmp_path / "backups").exists()


def test_a_missing_bucket_is_one_line_and_no_backup(deployment, capsys, tmp_path):
    deployment.s3.delete_bucket(Bucket=UPLOADS)
    code, out = fix(capsys, tmp_path, "--yes")
    assert code == 1
    assert (
        f"cannot fix the notification of bucket {UPLOADS}: the bucket does not exist in ap-northeast-1"
        in out.splitlines()
    )
    assert not (tmp_path / "backups").exists()


def test_json_stays_one_document(deployment, capsys, tmp_path):
    duplicate_notification(deployment)
    code, out = fix(capsys, tmp_path, "--yes", "--json")
    report = json.loads(out)  # one document, nothing printed around it
    assert code == 1 and report["findings"] == []  # only the s3:TestEvent waits, unprocessed
    (result,) = report["fix_notifications"]
    assert (result["bucket"], result["action"]) == (UPLOADS, "written")
    assert result["backup"] and '-      "Id": "duplicate",' in result["diff"]
