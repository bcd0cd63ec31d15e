"""`python -m audit --since`: the production data plane deployed to moto server, 25 hours of history
written the way AWS and the worker write it, and the plan's windows judged from it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from audit.__main__ import main
from audit.declared import declared_stack
from sandbox.local_aws import REGION, client, local_environment
from tests.audit.conftest import DLQ, UPLOADS
from tests.audit.rollout_history import Minute, healthy, incident_loop, write_history
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # moto server


@pytest.fixture(scope="module")
def endpoint(aws_endpoint: str) -> str:
    """The audit tests' deployment, on the shared moto server."""
    return aws_endpoint


@pytest.fixture
def namespace(production) -> str:
    return declared_stack(production, REGION).metric_namespace


def since(rollout: datetime) -> str:
    return rollout.strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_json(capsys, *arguments: str) -> tuple[int, dict]:
    code = main(["--stack", "production", "--json", *arguments])
    return code, json.loads(capsys.readouterr().out)


def lines(report: dict) -> dict[tuple[str, str], dict]:
    return {
        (window["name"], line["name"]): line
        for window in report["rollout"]["windows"]
        for line in window["lines"]
    }


def test_healthy_rollout_passes_every_window(deployment, namespace, capsys, tmp_path):
    now = datetime.now(UTC)
    rollout = now - timedelta(hours=24, minutes=30)
    write_history(deployment.cloudwatch, healthy, rollout, now, namespace)

    code, report = audit_json(capsys, "--since", since(rollout), "--report", str(tmp_path))

    judged = lines(report)
    assert code == 0, judged
    assert [window["name"] for window in report["rollout"]["windows"]] == ["1 hour", "6 hours", "24 hours"]
    assert all(window["elapsed"] for window in report["rollout"]["windows"])
    assert {key: line["verdict"] for key, line in judged.items() if line["verdict"] != "PASS"} == {}
    assert judged[("1 hour", "queue depth reduced by more than 50 %")]["detail"].startswith(
        "1,200 at the rollout -> 4"
    )
    assert judged[("6 hours", "success rate >= 95 %")]["detail"].startswith("99.5 %")
    assert judged[("24 hours", "DLQ reviewed and cleared")]["detail"].startswith("0 message(s)")
    assert judged[("6 hours", "no worker crashes")]["detail"] == "0 restarts after a crash"  # zeros
    report_md = (tmp_path / "report.md").read_text()
    assert "## 24 hours (until" in report_md and "Nothing: every window has elapsed." in report_md
    assert "- work queue: 1,200 visible, 300 in flight" in report_md
    assert (tmp_path / "depth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_incident_loop_fails_on_depth_and_reappearing_messages(deployment, namespace, capsys):
    now = datetime.now(UTC)
    rollout = now - timedelta(hours=3)
    write_history(deployment.cloudwatch, incident_loop, rollout, now, namespace)

    code, out = main(["--stack", "production", "--since", since(rollout)]), capsys.readouterr().out

    assert code == 1
    assert "    [FAIL] queue depth reduced by more than 50 %: 1,200 at the rollout -> 1,200 (+0.0 %)" in out
    assert (
        "    [FAIL] no messages reappearing: 900 receives without a delete or release: messages reappear"
        in out
    )
    assert re.search(r"\n    \[FAIL\] no MessageDeleteFailed: MessageDeleteFailed = 1,[12]\d\d\n", out)
    assert "  6 hours (until" in out and "[PENDING] queue depth < 100: judged at" in out
    assert (
        out.splitlines()[-1].startswith("Audit FAILED: ") and "failed success check" in out.splitlines()[-1]
    )


@pytest.mark.parametrize(
    ("crash_minute", "code", "verdict", "detail"),
    [
        (200, 1, "FAIL", "1 restarts after a crash"),  # inside the 6-hour window
        (400, 0, "PASS", "0 restarts after a crash"),  # after it: the plan judges crashes up to 6 h
    ],
)
def test_a_worker_crash_fails_the_six_hour_window(
    deployment, namespace, capsys, crash_minute, code, verdict, detail
):
    now = datetime.now(UTC)
    rollout = now - timedelta(hours=24, minutes=30)

    def crash_once(minutes: float) -> Minute:
        minute = healthy(minutes)
        if crash_minute <= minutes < crash_minute + 1:  # a worker restarted after a crash
            minute.crashed = 1.0
        return minute

    write_history(deployment.cloudwatch, crash_once, rollout, now, namespace)

    exit_code, report = audit_json(capsys, "--since", since(rollout))

    judged = lines(report)
    assert judged[("6 hours", "no worker crashes")]["verdict"] == verdict
    assert judged[("6 hours", "no worker crashes")]["detail"] == detail
    assert exit_code == code, {key: line for key, line in judged.items() if line["verdict"] != "PASS"}
    assert {key for key, line in judged.items() if line["verdict"] == "FAIL"} == (
        {("6 hours", "no worker crashes")} if verdict == "FAIL" else set()
    )


def test_rollout_thirty_minutes_ago_is_pending_not_failing(deployment, namespace, capsys):
    now = datetime.now(UTC)
    rollout = now - timedelta(minutes=30)
    write_history(deployment.cloudwatch, healthy, rollout, now, namespace)

    code, report = audit_json(capsys, "--since", since(rollout))

    judged = lines(report)
    assert code == 0, judged
    assert {line["verdict"] for line in judged.values()} == {"PENDING"}
    depth = judged[("1 hour", "queue depth reduced by more than 50 %")]["detail"]
    assert re.fullmatch(r"judged at \S+Z \(in (2\d|30) min\); so far: 1,200 at the rollout -> .*", depth), (
        depth
    )
    current = {check["name"]: check["verdict"] for check in report["success_metrics"]}
    assert current["indexing lag < 5 min"] == "PENDING" and current["DLQ empty"] == "PENDING"
    assert report["counts"]["failed_checks"] == 0 and report["counts"]["pending_checks"] == 14 + 5


def test_since_composes_with_watch(deployment, namespace, capsys):
    now = datetime.now(UTC)
    write_history(deployment.cloudwatch, incident_loop, now - timedelta(hours=2), now, namespace)

    code = main(["--stack", "production", "--since", "-2h", "--watch", "0.01", "--count", "2"])

    trend = capsys.readouterr().out.splitlines()
    assert code == 1 and len(trend) == 2
    assert trend[-1].endswith("FAILING  windows 1h FAIL, 6h PENDING, 24h PENDING")


def test_without_history_every_elapsed_line_is_no_data(deployment, capsys):
    code, report = audit_json(capsys, "--since", "-25h")
    judged = lines(report)
    assert code == 0
    assert judged[("6 hours", "no worker crashes")] == {
        **judged[("6 hours", "no worker crashes")],
        "verdict": "NO DATA",
        "detail": "no WorkerCrashed from the worker (published at each start-up, docs/audit.md)",
    }
    assert judged[("1 hour", "no messages reappearing")]["verdict"] == "NO DATA"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "--since 'yesterday' is not a time: use ISO 8601 with a zone"),
        ("2026-12-07T08:30:00", "has no time zone: add Z or an offset"),
        ("2999-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_bad_since_is_one_line_and_exit_2(deployment, capsys, value, message):
    code = main(["--stack", "production", "--since", value])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err and captured.err.count("\n") == 1


def test_report_without_since_is_misuse(deployment, capsys, tmp_path):
    assert main(["--stack", "production", "--report", str(tmp_path)]) == 2
    assert "error: --report needs --since WHEN" in capsys.readouterr().err


def test_command_line_run_of_the_healthy_rollout(deployment, namespace):
    """The command an outside script runs: `python -m audit --stack production --since WHEN`."""
    now = datetime.now(UTC)
    rollout = now - timedelta(hours=24, minutes=10)
    write_history(deployment.cloudwatch, healthy, rollout, now, namespace)
    done = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "production", "--since", since(rollout)],
        cwd=REPO_ROOT,
        env={**os.environ, **local_environment(deployment.endpoint)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for window in ("1 hour", "6 hours", "24 hours"):
        assert f"  {window} (until " in done.stdout
    assert "[FAIL]" not in done.stdout


def test_report_lists_dead_letters_by_reason_and_what_is_pending(deployment, namespace, capsys, tmp_path):
    now = datetime.now(UTC)
    write_history(deployment.cloudwatch, healthy, now - timedelta(hours=2), now, namespace)
    for key, error_type, reason in [
        ("uploads/a.pdf", "PermanentError", "encrypted PDF"),
        ("uploads/b.pdf", "PermanentError", "encrypted PDF"),
        ("uploads/c.zip", "TimeoutError", "processing exceeded 900 s"),
    ]:
        deployment.sqs.send_message(
            QueueUrl=deployment.url(DLQ),
            MessageBody=json.dumps(
                {
                    "Records": [
                        {
                            "eventName": "ObjectCreated:Put",
                            "s3": {"bucket": {"name": UPLOADS}, "object": {"key": key, "size": 1}},
                        }
                    ]
                }
            ),
            MessageAttributes={
                "ErrorType": {"DataType": "String", "StringValue": error_type},
                "Reason": {"DataType": "String", "StringValue": reason},
            },
        )

    code = main(["--stack", "production", "--since", "-2h", "--report", str(tmp_path)])
    capsys.readouterr()

    report_md = (tmp_path / "report.md").read_text()
    assert code == 0
    assert "| 2 | PermanentError | encrypted PDF |" in report_md
    assert "| 1 | TimeoutError | processing exceeded 900 s |" in report_md
    pending = report_md.split("## Still pending\n", 1)[1]
    assert "- queue depth < 100 (6 hours): judged at " in pending
    assert "queue depth reduced by more than 50 %" not in pending


def test_history_written_into_moto_is_what_put_metric_data_would_store(deployment, namespace):
    """The shortcut the other tests take (rollout_history.py) stores what the API path stores."""
    now = datetime.now(UTC)
    rollout = now - timedelta(minutes=30)
    api_region = "eu-west-1"  # the deployment's region gets the shortcut; this one the API path
    api = client(deployment.endpoint, "cloudwatch", region=api_region)
    arguments = (incident_loop, rollout, now, namespace, timedelta(hours=1))
    direct = write_history(deployment.cloudwatch, *arguments)
    sent = write_history(api, *arguments, through_api=True)

    def stored(region: str) -> list[tuple]:
        return sorted(
            (d.namespace, d.name, d.value, d.unit, d.timestamp, [(x.name, x.value) for x in d.dimensions])
            for d in get_backend("cloudwatch")[DEFAULT_ACCOUNT_ID][region].metric_data
            if d.timestamp >= (now - timedelta(hours=1, minutes=1)).replace(tzinfo=None)  # moto: naive UTC
        )

    assert direct == sent > 600  # 61 minutes of a dozen metrics
    assert stored(REGION) == stored(api_region)
