"""`python -m worker --help` prints the environment contract and needs no environment."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

from tests.paths import REPO_ROOT
from worker import contract
from worker.config import WorkerConfig


def run_worker(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "worker", *arguments],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},  # nothing else: no QUEUE_URL
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_prints_every_variable_the_worker_reads_without_any_environment():
    result = run_worker("--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    read = set(re.findall(r'"([A-Z][A-Z_]+)"', inspect.getsource(WorkerConfig.from_environ)))
    assert read >= {contract.QUEUE_URL, contract.PROCESSING_TIMEOUT_SECONDS, contract.INDEX_BUCKET}
    for name in read:
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), name
    assert "Exit status" in result.stdout and "SIGTERM" in result.stdout


def test_an_unknown_argument_is_one_json_line_and_exit_2():
    result = run_worker("--queue", "x")
    assert result.returncode == 2
    (line,) = result.stdout.splitlines()
    assert "--queue x" in line and "--help" in line
