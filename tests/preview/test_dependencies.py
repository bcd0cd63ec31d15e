"""A program's own virtualenv, `--install`, and the CLI's exit 2 for a wrong policy config."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # creates virtualenvs and runs `python -m preview` in subprocesses

PROJECT = """\
name: own-venv
runtime:
  name: python
  options:
    toolchain: {toolchain}
    virtualenv: venv
"""
PROGRAM = """\
import sys

import pulumi
import pulumi_aws as aws

aws.sqs.Queue("jobs", name="jobs", sqs_managed_sse_enabled=False)
pulumi.export("interpreter", sys.prefix)
"""


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )


def own_venv_program(directory: Path, toolchain: str = "pip") -> Path:
    directory.mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text(PROJECT.format(toolchain=toolchain))
    (directory / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (directory / "__main__.py").write_text(PROGRAM)
    (directory / "requirements.txt").write_text(
        "# pulumi and pulumi-aws come from the shared test venv (.pth)\n"
    )
    return directory


def make_venv(venv: Path, with_pulumi: bool) -> None:
    """A real venv; with_pulumi links this interpreter's site-packages in (instead of downloading them)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    if with_pulumi:
        target = next(venv.glob("lib/python*/site-packages"))
        (target / "shared.pth").write_text("\n".join(site.getsitepackages()) + "\n")


def test_program_runs_in_its_declared_virtualenv(tmp_path: Path):
    program = own_venv_program(tmp_path / "program")
    make_venv(program / "venv", with_pulumi=True)
    result = preview("--program", str(program), "--stack", "dev", "--json")
    assert result.returncode == 1, result.stderr  # encryption turned off: a mandatory policy fires
    document = json.loads(result.stdout)
    assert document["outputs"]["interpreter"] == str(program / "venv")
    assert [r["name"] for r in document["resources"] if r["type"] == "aws:sqs/queue:Queue"] == ["jobs"]
    assert {v["policy"] for v in document["violations"]} >= {"sqs-encryption-at-rest"}


def test_virtualenv_without_pulumi_names_the_package_and_the_command(tmp_path: Path):
    program = own_venv_program(tmp_path / "program")
    make_venv(program / "venv", with_pulumi=False)
    result = preview("--program", str(program), "--stack", "dev")
    assert result.returncode == 2
    assert "has no 'pulumi'" in result.stderr and f"--program {program} --install" in result.stderr
    assert "Traceback" not in result.stderr


def test_install_creates_the_declared_virtualenv(tmp_path: Path):
    program = own_venv_program(tmp_path / "program")
    result = preview("--program", str(program), "--stack", "dev", "--install")
    assert (program / "venv" / "pyvenv.cfg").exists()
    assert "installed" in result.stderr  # then the render runs there: pulumi is not in its requirements
    assert result.returncode == 2 and "has no 'pulumi'" in result.stderr


def test_install_with_another_toolchain_names_its_command(tmp_path: Path):
    program = own_venv_program(tmp_path / "program", toolchain="uv")
    result = preview("--program", str(program), "--stack", "dev", "--install")
    assert result.returncode == 2 and "install with `uv sync`" in result.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            '{"dead-letter-queue-required": {"maxMaxReceiveCount": 5000}}',
            "maxMaxReceiveCount=5000: must be <= 1000",
        ),
        ('{"dlq-is-alarmed": ', "not valid JSON"),
        ('["mandatory"]', "expected an object of policy names"),
    ],
)
def test_wrong_policy_config_exits_2_with_one_line(tmp_path: Path, config: str, expected: str):
    path = tmp_path / "config.json"
    path.write_text(config)
    result = preview("--stack", "production", "--policy-config", str(path))
    assert result.returncode == 2
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_remediate_fails_the_gate(tmp_path: Path):
    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: lonely\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text(
        textwrap.dedent('import pulumi_aws as aws\naws.sqs.Queue("q", name="q")\n')
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"all": "remediate"}))
    result = preview("--program", str(program), "--stack", "dev", "--policy-config", str(config))
    assert result.returncode == 1 and "[remediate]" in result.stdout
