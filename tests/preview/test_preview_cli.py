"""`python -m preview` as a user runs it: on this repo and on any other program directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.programs import PipelineProgram, write_program

pytestmark = pytest.mark.slow  # runs `python -m preview` in subprocesses


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_tree_and_gate_pass():
    result = preview()
    assert result.returncode == 0, result.stderr
    for expected in (
        "aws:sqs/queue:Queue",
        "work-queue",
        "visibilityTimeoutSeconds=900",
        "aws:s3/bucketNotification:BucketNotification",
        "queueUrl",
        "Policy gate passed: 0 mandatory",
    ):
        assert expected in result.stdout
    assert "Traceback" not in result.stderr


def test_production_json():
    result = preview("--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) >= {"resources", "outputs", "violations"}
    assert {"type", "name", "urn", "parent", "inputs", "outputs"} <= set(document["resources"][0])
    assert document["outputs"]["queueUrl"].endswith("/file-processing-queue-production")
    assert all(violation["level"] != "mandatory" for violation in document["violations"])


def test_any_program_directory(tmp_path: Path):
    program = write_program(
        tmp_path / "other",
        'aws.sqs.Queue("lonely", name="lonely", sqs_managed_sse_enabled=False)\npulumi.export("answer", 42)\n',
    )
    text = preview("--program", str(program), "--stack", "dev")
    assert "lonely" in text.stdout and "answer" in text.stdout
    assert (
        text.returncode == 1
    )  # encryption turned off: mandatory; no DLQ on a queue nobody consumes: advisory
    document = json.loads(preview("--program", str(program), "--stack", "dev", "--json").stdout)
    assert document["outputs"] == {"answer": 42}
    assert [r["name"] for r in document["resources"] if r["type"] == "aws:sqs/queue:Queue"] == ["lonely"]
    assert {"policy", "level", "urn", "message"} == set(document["violations"][0])
    levels = {v["policy"]: v["level"] for v in document["violations"]}
    assert levels["sqs-encryption-at-rest"] == "mandatory"
    assert levels.get("dead-letter-queue-required", "advisory") == "advisory"


def test_compliant_program_passes(tmp_path: Path):
    program = write_program(tmp_path / "good", PipelineProgram(dlq_alarm=True).source())
    result = preview("--program", str(program), "--stack", "dev")
    assert result.returncode == 0, result.stdout
    assert "0 mandatory, 0 advisory" in result.stdout


def test_program_error_is_a_message_not_a_traceback(tmp_path: Path):
    program = write_program(
        tmp_path / "broken", 'raise ValueError("bucket name missing: set uploadBucketName")\n'
    )
    result = preview("--program", str(program), "--stack", "dev")
    assert result.returncode == 2
    assert "bucket name missing: set uploadBucketName" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_exits_2_naming_the_key():
    result = preview("--stack", "production", "-c", "visibilityTimeoutSeconds=300")
    assert result.returncode == 2
    assert "visibilityTimeoutSeconds=300: must be >= maxProcessingSeconds (900)" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_project_is_explained(tmp_path: Path):
    result = preview("--program", str(tmp_path))
    assert result.returncode == 2
    assert "has no Pulumi.yaml" in result.stderr


def test_what_the_program_prints_is_shown_once_and_never_mixed_into_json(tmp_path: Path):
    """A program that prints (jaxxstorm/pulumi-examples python/misc/config, pulumi/examples
    aws-py-oidc-provider): `pulumi preview` shows its output once, as the stack's diagnostics, and
    `--json` stays one JSON document. The twin runs the program twice (two passes)."""
    program = write_program(
        tmp_path / "chatty",
        'print("creating the queue")\nqueue = aws.sqs.Queue("jobs", name="jobs")\n'
        'queue.url.apply(lambda url: print("url", url))\n',
    )
    text = preview("--program", str(program), "--stack", "dev")
    assert text.stdout.count("creating the queue") == 1, text.stdout
    assert "Diagnostics:\n  pulumi:pulumi:Stack (test-program-dev):\n    creating the queue\n" in text.stdout
    assert "url https://" not in text.stdout  # the queue's URL is unknown in the preview: no callback
    document = json.loads(preview("--program", str(program), "--stack", "dev", "--json").stdout)
    assert [d["message"] for d in document["diagnostics"]] == ["creating the queue"]
    assert document["diagnostics"][0]["urn"].endswith("pulumi:pulumi:Stack::test-program-dev")


def test_an_input_the_provider_cannot_convert_fails_the_preview_at_its_line(tmp_path: Path):
    """The SDK sends any value; the provider's check refuses a number property given "soon", and
    `pulumi preview` stops there. A numeric string is converted, as the provider converts it."""
    program = write_program(
        tmp_path / "typo",
        'print("before")\naws.sqs.Queue("ok", name="ok", delay_seconds="5")\n'
        'aws.sqs.Queue("jobs", name="jobs", visibility_timeout_seconds="soon")\n',
    )
    result = preview("--program", str(program), "--stack", "dev")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert (
        "__main__.py:9: aws:sqs/queue:Queue resource 'jobs': visibilityTimeoutSeconds='soon'" in result.stderr
    )
    assert "is not a number" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == "before\n"  # what the program printed before, as the CLI shows it


@pytest.mark.parametrize(("value", "fails"), [("1", False), ("False", False), ("yes", True)])
def test_a_boolean_property_given_text_fails_only_where_the_provider_cannot_read_it(
    tmp_path: Path, value: str, fails: bool
):
    program = write_program(
        tmp_path / "flags", f'aws.sqs.Queue("jobs", name="jobs", sqs_managed_sse_enabled="{value}")\n'
    )
    result = preview("--program", str(program), "--stack", "dev")
    assert (result.returncode == 2) == fails, result.stdout + result.stderr
    assert ("sqsManagedSseEnabled='yes' is not a boolean" in result.stderr) == fails
