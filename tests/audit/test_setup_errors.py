"""The audit cannot run as asked: exit 2 with one line saying why, never a traceback, a hang or a
silent fallback (an unknown stack, a stack without its policy config, a malformed endpoint, an
endpoint that accepts connections and never answers)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from audit.__main__ import main
from sandbox.local_aws import local_environment
from tests.paths import REPO_ROOT


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


def test_unknown_stack_is_an_error_not_the_defaults(capsys):
    assert main(["--stack", "prod"]) == 2
    assert one_error_line(capsys) == (
        f"error: unknown stack 'prod': no Pulumi.prod.yaml in {REPO_ROOT} (stacks: lambda, production)"
    )


def test_a_stack_without_its_policy_config_is_an_error(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.staging.yaml").write_text("config: {}\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text("", encoding="utf-8")
    assert main(["--stack", "staging", "--program", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: no policy config for stack 'staging': expected ")
    assert line.endswith("config.staging.json, or pass --policy-config FILE")


def test_a_missing_policy_config_file_is_an_error(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert main(["--policy-config", str(missing), "--json"]) == 2
    assert one_error_line(capsys) == f"error: --policy-config {missing}: no such file"


@pytest.mark.parametrize("endpoint", ["localhost:4566", "http://127.0.0.1:99999", "ftp://127.0.0.1:4566"])
def test_a_malformed_endpoint_is_one_line_and_exit_2(endpoint, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert main(["--stack", "production"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: AWS_ENDPOINT_URL={endpoint!r} is not a valid endpoint URL")


@pytest.mark.slow  # a subprocess
def test_make_audit_with_a_malformed_endpoint_prints_one_line():
    environment = {
        **os.environ,
        **local_environment("localhost:4566"),
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'policy'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "production"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: AWS_ENDPOINT_URL='localhost:4566' is not a valid endpoint URL "
        "(expected http(s)://host[:port], e.g. http://127.0.0.1:5000)"
    ]
    assert done.stdout == ""


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server on loopback that accepts every connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.slow  # a socket server
def test_an_endpoint_that_never_answers_times_out_fast(silent_endpoint, monkeypatch, capsys):
    for key, value in local_environment(silent_endpoint).items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    code = main(["--stack", "production", "--timeout", "0.5", "--json"])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 2
    assert elapsed < 15, f"{elapsed:.1f} s"
    (line,) = captured.err.splitlines()
    assert line.startswith(
        f"error: cannot read the live pipeline ({silent_endpoint}): Read timeout on endpoint URL"
    )
    assert '"exit_code": 2' in captured.out
