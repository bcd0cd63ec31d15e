"""The systemd units as `systemd-analyze security` judges them (offline, on the unit files)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from components.host_bootstrap import INSTALL_DIR
from tests.paths import REPO_ROOT
from worker import contract

pytestmark = pytest.mark.slow

MAX_EXPOSURE = {"file-processor.service": 3.0, "file-processor-drain.service": 5.0}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_units_are_sandboxed(unit):
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(REPO_ROOT / "worker" / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE[unit]


@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_units_read_what_cloud_init_writes(unit):
    text = (REPO_ROOT / "worker" / unit).read_text()
    assert f"EnvironmentFile={contract.ENVIRONMENT_FILE}" in text
    assert f"ExecStart={INSTALL_DIR}/venv/bin/python -m worker" in text
    assert "CapabilityBoundingSet=\n" in text and "NoNewPrivileges=yes" in text


def _directives(unit: str) -> dict[str, str]:
    lines = (REPO_ROOT / "worker" / unit).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_worker_does_not_restart_on_a_failed_start_up_check():
    """Exit 2 means a setting or a missing queue/bucket: restarting every RestartSec cannot fix it."""
    from worker.__main__ import EXIT_CONFIGURATION, EXIT_FATAL, EXIT_UNAVAILABLE

    directives = _directives("file-processor.service")
    assert directives["Restart"] == "always"
    assert str(EXIT_CONFIGURATION) in directives["RestartPreventExitStatus"].split()
    assert str(EXIT_FATAL) not in directives["RestartPreventExitStatus"].split()
    assert str(EXIT_UNAVAILABLE) not in directives["RestartPreventExitStatus"].split(), "an outage at boot"
    burst, interval = int(directives["StartLimitBurst"]), int(directives["StartLimitIntervalSec"])
    restart_seconds = int(directives["RestartSec"])
    assert burst * restart_seconds < interval, "a crash loop must reach the start limit and stop"
