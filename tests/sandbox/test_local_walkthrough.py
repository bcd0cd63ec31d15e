"""The local walkthrough (docs/local-walkthrough.md) as an outsider runs it: public commands only, as
subprocesses, with no AWS credentials or region in the environment and HOME an empty directory (so no
~/.aws is read). Nine steps: deploy, audit passes, --worker-env, 30 uploads and a corrupt PDF over
plain HTTP, the worker indexes 30 and dead-letters 1 and exits 0 on SIGTERM, `dlq summary` names the
PDF, the audit fails naming the DLQ, export + purge, the audit passes again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.local_aws import moto_server_process
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow

DOCS_ENDPOINT = "http://127.0.0.1:5917"
"""The endpoint the documented runs used (docs/local-walkthrough.md, docs/drill.md)."""

UPLOADS = 30
CORRUPT = "uploads/broken-scan.pdf"


def outsider_environment(home: Path) -> dict[str, str]:
    """This process's environment without any AWS_* variable, HOME an empty directory."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"), PYTHONUNBUFFERED="1")
    return environment


def run(environment: dict[str, str], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


WALKTHROUGH = REPO_ROOT / "docs" / "local-walkthrough.md"
DRILL = REPO_ROOT / "docs" / "drill.md"


def documented_block(page: Path, command: str) -> str:
    """What a page shows after the first line starting with `command`, up to the next command or fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(command))
    shown = []
    for line in lines[start + 1 :]:
        if line.startswith(("$ ", "```")):
            break
        shown.append(line)
    return "\n".join(shown)


def as_documented(text: str, endpoint: str) -> str:
    return text.replace(endpoint, DOCS_ENDPOINT).rstrip("\n")


def without_hashes(outputs: dict) -> dict:
    """The outputs without the worker bundle's hashes (they change with every edit of worker/) and with
    the launch template's id reduced to its shape (moto draws a new one per deployment)."""
    kept = {key: value for key, value in outputs.items() if not key.endswith("Sha256")}
    kept["workerLaunchTemplateId"] = str(kept.get("workerLaunchTemplateId"))[:3]
    return kept


def put(url: str, body: bytes) -> int:
    """A plain-HTTP PUT, as curl would send it (no signature, no credentials)."""
    request = urllib.request.Request(url, data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status


def test_the_local_walkthrough_without_credentials(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    environment = outsider_environment(home)
    with moto_server_process() as endpoint:
        # 1. deploy
        deployed = run(environment, "sandbox.deploy", "--endpoint", endpoint, "--json")
        assert deployed.returncode == 0, deployed.stderr
        outputs = json.loads(deployed.stdout)
        assert outputs["workerGroupName"] and "plain-HTTP uploads" in deployed.stderr
        documented = documented_block(WALKTHROUGH, "$ python -m sandbox.deploy --endpoint")
        assert documented == as_documented(deployed.stderr, endpoint), "docs/local-walkthrough.md step 1"
        drill_json = json.loads(
            documented_block(DRILL, "$ python -m sandbox.deploy --endpoint").splitlines()[-1]
        )
        assert without_hashes(drill_json) == without_hashes(
            json.loads(as_documented(deployed.stdout, endpoint))
        )
        outputs_file = tmp_path / "outputs.json"
        outputs_file.write_text(deployed.stdout)
        audited_env = {**environment, "AWS_ENDPOINT_URL": endpoint}

        # 2. the audit passes
        audit = run(audited_env, "audit", "--stack", "production")
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert "local placeholder credentials" in audit.stderr

        # 3. the worker's environment
        worker_env = run(environment, "sandbox.deploy", "--endpoint", endpoint, "--worker-env")
        assert worker_env.returncode == 0, worker_env.stderr
        variables = dict(line.split("=", 1) for line in worker_env.stdout.splitlines())
        assert documented_block(
            WALKTHROUGH, "$ python -m sandbox.deploy --endpoint http://127.0.0.1:5917 --worker-env"
        ) == (as_documented(worker_env.stdout, endpoint)), "docs/local-walkthrough.md step 3"
        assert variables["QUEUE_URL"] == outputs["queueUrl"] and variables["AWS_ENDPOINT_URL"] == endpoint

        # 4. 30 uploads and one corrupt PDF over plain HTTP
        bucket_url = f"{endpoint}/{outputs['bucketName']}"
        for number in range(UPLOADS):
            assert put(f"{bucket_url}/uploads/report-{number:02d}.txt", f"report {number}\n".encode()) == 200
        assert put(f"{bucket_url}/{CORRUPT}", b"%PDF-1.7\n this is no PDF at all\n") == 200

        # 5. the worker indexes 30, dead-letters 1, exits 0 on SIGTERM
        worker = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=REPO_ROOT,
            env={**environment, **variables},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        outcomes: dict[str, list[str]] = {}
        deadline = time.monotonic() + 120
        try:
            while sum(len(keys) for keys in outcomes.values()) < UPLOADS + 1 and time.monotonic() < deadline:
                line = worker.stdout.readline()
                if not line:
                    break
                try:
                    record = json.loads(line)
                except ValueError:  # not a log record (a library's warning): not an outcome either
                    continue
                if record.get("message") == "message handled":
                    outcomes.setdefault(record["outcome"], []).extend(record["keys"])
        finally:
            worker.send_signal(signal.SIGTERM)
            rest, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, rest
        assert len(outcomes.get("processed", [])) == UPLOADS, outcomes
        assert outcomes.get("permanent_failure") == [CORRUPT], outcomes
        index = urllib.request.urlopen(
            f"{endpoint}/{outputs['indexBucketName']}?list-type=2&prefix={variables['INDEX_PREFIX']}",
            timeout=30,
        ).read()
        assert index.count(b"<Key>") >= UPLOADS

        # 6. dlq summary names the PDF (outputs file only: no AWS_ENDPOINT_URL)
        summary = run(environment, "dlq", "summary", "--stack-outputs", str(outputs_file))
        assert summary.returncode == 0, summary.stderr
        assert CORRUPT in summary.stdout and "1 dead letters" in summary.stdout

        # 7. the audit fails naming the DLQ
        failing = run(audited_env, "audit", "--stack", "production")
        assert failing.returncode == 1, failing.stdout + failing.stderr
        assert "[FAIL] DLQ empty" in failing.stdout

        # 8. export, then purge what was exported
        export = tmp_path / "dead-letters.jsonl"
        exported = run(environment, "dlq", "export", str(export), "--stack-outputs", str(outputs_file))
        assert exported.returncode == 0, exported.stderr
        assert CORRUPT in export.read_text()
        purged = run(
            environment,
            "dlq",
            "purge",
            "--export",
            str(export),
            "--yes",
            "--stack-outputs",
            str(outputs_file),
        )
        assert purged.returncode == 0, purged.stderr

        # 9. the audit passes again
        passing = run(audited_env, "audit", "--stack", "production")
        assert passing.returncode == 0, passing.stdout + passing.stderr
    assert not list(REPO_ROOT.glob("dlq-redrive-*.ledger"))
