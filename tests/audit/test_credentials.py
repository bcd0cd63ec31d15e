"""Credentials and region: local placeholders on a loopback endpoint (one note line), one line naming
what to set against AWS, and a region that is no AWS region refused before anything is read."""

from __future__ import annotations

import pytest

from audit.__main__ import main
from worker.aws_setup import AwsSetupError, require_aws_settings, use_local_placeholders


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """No AWS_* variable and an empty HOME: what a newcomer's shell holds."""
    import os

    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def test_a_loopback_endpoint_gets_placeholders_and_says_so_once(no_aws):
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "HOME": "/nonexistent"}
    note = use_local_placeholders("ap-northeast-1", environ=environ)
    assert note == (
        "note: http://127.0.0.1:5000 is a local AWS: using local placeholder credentials and region ap-northeast-1"
    )
    assert environ["AWS_ACCESS_KEY_ID"] and environ["AWS_DEFAULT_REGION"] == "ap-northeast-1"


def test_a_remote_endpoint_never_gets_placeholders(no_aws):
    environ = {"AWS_ENDPOINT_URL": "https://sqs.ap-northeast-1.amazonaws.com"}
    assert use_local_placeholders("ap-northeast-1", environ=environ) is None
    assert "AWS_ACCESS_KEY_ID" not in environ


def test_against_aws_a_missing_region_or_credential_names_what_to_set(no_aws):
    no_aws.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find off EC2
    with pytest.raises(AwsSetupError, match="no AWS region configured: set AWS_REGION"):
        require_aws_settings()
    with pytest.raises(AwsSetupError, match="no AWS credentials found: set AWS_PROFILE"):
        require_aws_settings("ap-northeast-1")


def test_the_audit_against_aws_without_credentials_is_one_line(no_aws, capsys):
    no_aws.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["--stack", "production"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "error: no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
        "or AWS_ENDPOINT_URL=http://127.0.0.1:PORT for a local AWS"
    ]


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (
            "not a region",
            "error: --region 'not a region' is not an AWS region code (expected e.g. ap-northeast-1)",
        ),
        ("ap-northeast-9", "error: --region ap-northeast-9: no such AWS region"),
    ],
)
def test_a_region_that_is_not_one_is_refused_in_one_line(region, expected, capsys):
    assert main(["--stack", "production", "--region", region]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected)
