"""The rendered bootstrap, run under bash with stub commands: a failure anywhere ends unhealthy.

The stubs (aws, curl, dnf, python3.11 and its venv's pip, systemctl, useradd, id, chgrp, sleep) log
every call and fail where a test says so; `aws s3 cp` hands over the real bundle the render built.
The script's absolute paths (/opt, /etc) are moved under a temporary root, nothing else changes.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.program.test_pipeline import one

pytestmark = pytest.mark.slow

INSTANCE_ID = "i-0123456789abcdef0"
STUB = r"""#!/bin/bash
# A stand-in for one command: log the call, fail when $STUB_FAIL matches it, act where needed.
name=$(basename "$0")
call="$name $*"
echo "$call" >> "$STUB_LOG"
if [ -n "${STUB_FAIL:-}" ] && echo "$call" | grep -Eq -- "$STUB_FAIL"; then exit 1; fi
case "$name $1" in
  "aws s3") cp "$STUB_BUNDLE" "${@: -1}" ;;
  "curl "*) case "$*" in *instance-id*) echo -n "$STUB_INSTANCE_ID" ;; *) echo -n token ;; esac ;;
  "python3.11 -m") mkdir -p "$3/bin" && ln -sf "$0" "$3/bin/pip" ;;
  "systemctl show") echo "${STUB_RESTARTS:-0}" ;;
  "id "*) exit 1 ;;
esac
exit 0
"""
COMMANDS = ("aws", "curl", "dnf", "python3.11", "systemctl", "useradd", "id", "chgrp", "sleep")


@pytest.fixture(scope="module")
def rendered(production) -> tuple[str, Path]:
    template = one(production, "aws:ec2/launchTemplate:LaunchTemplate", "workers-launch-template")
    script = base64.b64decode(template.inputs["userData"]).decode()
    bundle = REPO_ROOT / "build" / f"worker-{production.outputs['workerBundleSha256']}.tar.gz"
    assert bundle.exists()
    return script, bundle


def run_bootstrap(rendered, tmp_path: Path, bundle: Path | None = None, **stub_env: str) -> list[str]:
    script, real_bundle = rendered
    root, stubs = tmp_path / "root", tmp_path / "stubs"
    stubs.mkdir()
    for command in COMMANDS:
        (stubs / command).write_text(STUB)
        (stubs / command).chmod(0o755)
    moved = re.sub(r"(?<![\w/.:])/(opt|etc)/", lambda match: f"{root}/{match.group(1)}/", script)
    assert re.findall(r"(?<![\w/.:])/(?:opt|etc)/", moved) == []
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    log = tmp_path / "calls.log"
    log.touch()
    environment = {
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "STUB_LOG": str(log),
        "STUB_BUNDLE": str(bundle or real_bundle),
        "STUB_INSTANCE_ID": INSTANCE_ID,
        "HOME": str(tmp_path),
        **stub_env,
    }
    result = subprocess.run(
        ["bash", "-c", moved], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    calls = log.read_text().splitlines()
    return [f"exit {result.returncode}", *calls, *(f"stderr: {line}" for line in result.stderr.splitlines())]


def health_calls(calls: list[str]) -> list[str]:
    return [
        call
        for call in calls
        if call.startswith(
            ("aws autoscaling set-instance-health", "aws autoscaling complete-lifecycle-action")
        )
    ]


def ends_unhealthy(calls: list[str]) -> bool:
    reported = health_calls(calls)
    return (
        calls[0] != "exit 0"
        and len(reported) == 2
        and f"--instance-id {INSTANCE_ID} --health-status Unhealthy" in reported[0]
        and "--lifecycle-hook-name worker-ready" in reported[1]
        and reported[1].endswith("--lifecycle-action-result ABANDON")
    )


def test_a_working_bootstrap_puts_the_instance_in_service_only_after_the_worker_runs(rendered, tmp_path):
    calls = run_bootstrap(rendered, tmp_path)
    assert calls[0] == "exit 0", calls
    (completion,) = health_calls(calls)
    assert completion.endswith(f"--instance-id {INSTANCE_ID} --lifecycle-action-result CONTINUE")
    started = calls.index("systemctl enable --now file-processor.service file-processor-drain.service")
    checked = calls.index("systemctl show --property NRestarts --value file-processor.service")
    assert started < calls.index("sleep 30") < checked < calls.index(completion)
    pip = next(call for call in calls if call.startswith("pip install"))
    assert "--require-hashes --no-deps" in pip and pip.endswith("/worker/requirements.lock")
    environment_file = (tmp_path / "root" / "etc" / "file-processor.env").read_text()
    assert "QUEUE_URL=https://sqs.ap-northeast-1.amazonaws.com/" in environment_file
    assert (tmp_path / "root" / "etc/systemd/system/file-processor.service").exists()


@pytest.mark.parametrize(
    "failing",
    [
        "^aws s3 cp",  # the bundle cannot be downloaded
        "^dnf install",  # the interpreter cannot be installed
        "^pip install",  # a dependency is missing or its hash differs from the lock
        "^systemctl enable",  # the units cannot start
        "^systemctl is-active",  # the worker exited (its start-up checks failed)
    ],
)
def test_a_failing_step_ends_unhealthy_and_abandons_the_launch(rendered, tmp_path, failing):
    calls = run_bootstrap(rendered, tmp_path, STUB_FAIL=failing)
    assert ends_unhealthy(calls), calls
    assert not any(call.endswith("CONTINUE") for call in calls)


def test_a_bundle_that_does_not_match_its_hash_ends_unhealthy(rendered, tmp_path):
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(rendered[1].read_bytes() + b"\0")
    calls = run_bootstrap(rendered, tmp_path, bundle=tampered)
    assert ends_unhealthy(calls), calls
    assert not any(call.startswith("dnf") for call in calls)  # nothing installed from a bad bundle


def test_a_worker_that_restarted_during_the_settle_time_ends_unhealthy(rendered, tmp_path):
    calls = run_bootstrap(rendered, tmp_path, STUB_RESTARTS="2")
    assert ends_unhealthy(calls), calls


def test_the_script_is_valid_bash(rendered):
    result = subprocess.run(["bash", "-n", "-c", rendered[0]], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
