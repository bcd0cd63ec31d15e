"""The corpus: Pulumi Python programs written the way other teams write them, each previewed as a user
runs it, each rendering or failing exactly as `pulumi preview` would (exit code, message, values)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # runs `python -m preview` in subprocesses

CORPUS = Path(__file__).resolve().parent / "corpus"


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "preview", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


@dataclass(frozen=True)
class Case:
    program: str
    stack: str
    exit_code: int
    shows: tuple[str, ...] = ()
    error: tuple[str, ...] = ()
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        return f"{self.program}-{self.stack}" + (
            "-" + "-".join(a.split("=")[0] for a in self.args) if self.args else ""
        )


CASES = [
    Case(
        "lambda-api",
        "dev",
        0,
        shows=(
            "aws:lambda/function:Function",
            "aws:apigateway/integration:Integration",
            '"functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:hello"',
            '"url": "[unknown]"',
        ),
    ),
    Case(
        "static-website",
        "prod",
        0,  # the bucket policy names the distribution's ARN, unknown until it exists, as in `pulumi preview`
        shows=('"cdnDomain": "[unknown]"', '"bucketName": "www.example.com"', '"zoneId": "Z'),
    ),
    Case(
        "az-network",
        "staging",
        0,
        shows=(
            '"zones": ["ap-northeast-1a", "ap-northeast-1b", "ap-northeast-1c"]',
            "private-ap-northeast-1c",
        ),
    ),
    Case("ecs-asg", "dev", 0, shows=("aws:autoscaling/group:Group", '"bastionIp": "[unknown]"')),
    Case("stack-references", "prod", 0, shows=('"vpcId": "[unknown]"', '"firstSubnet": "[unknown]"')),
    Case(
        "stack-references",
        "prod",
        0,
        shows=('"vpcId": "vpc-0123456789abcdef0"', '"firstSubnet": "subnet-00000000000000001"', "[secret]"),
        args=(f"--stack-reference=acme/network/prod={CORPUS / 'stack-references' / 'network-prod.json'}",),
    ),
    Case("main-subfolder", "dev", 1, shows=('"logsBucket": "acme-dev-logs"', "s3-tls-only")),
    Case(
        "secrets", "dev", 0, shows=('"dbPassword": "[secret]"', '"webhookKey": "[secret]"', '"dbUser": "app"')
    ),
    Case(
        "secrets",
        "leaky",
        2,
        error=("secrets/__main__.py:11:", "'secrets-demo:apiToken' is a secure value", "-c apiToken=VALUE"),
    ),
    Case(
        "callback-side-effects",  # boto3 inside function.arn.apply: not run by `pulumi preview`
        "dev",
        0,
        shows=(
            '"functionArn": "[unknown]"',
            "callback-side-effects/__main__.py:37 failed on plausible values",
            '"redrivePolicy": "{\\"deadLetterTargetArn\\": \\"arn:aws:sqs:eu-west-1:123456789012:thumbnails-dlq\\"',
        ),
    ),
    Case(
        "policy-documents",  # structures where pulumi-aws stores JSON strings, returned as the string
        "dev",
        0,
        shows=(
            '"assumeRolePolicy": "{\\"Statement\\":[{\\"Action\\":\\"sts:AssumeRole\\"',
            '"readerPolicy": "{\\"Statement\\":[{\\"Action\\":[\\"s3:GetObject\\"],\\"Effect\\":\\"Allow\\",'
            '\\"Resource\\":\\"arn:aws:s3:::uploads/*\\"}]',
            'readerPolicy    : "[unknown]"',  # the tree: unknown until the bucket exists
        ),
    ),
    Case(
        "output-all-callback",  # pulumi/examples aws-py-langserve: a two-argument lambda on Output.all
        "dev",
        0,
        shows=(
            "output-all-callback/__main__.py:60 failed on plausible values",
            "missing 1 required positional argument: 'key_arn'",
        ),
    ),
    Case(
        "config-objects",  # jaxxstorm/pulumi-examples python/misc/config: require_object, prints
        "dev",
        0,
        shows=(
            "Diagnostics:\n  pulumi:pulumi:Stack (config-objects-dev):\n    h1 a.example.com\n    h2 b.example.com\n",
            '"diagnostics": [{"urn": "urn:pulumi:dev::config-objects::pulumi:pulumi:Stack::config-objects-dev", '
            '"severity": "info", "message": "h1 a.example.com"}',
            '"visibilityTimeoutSeconds": 120,',  # "120" from config, converted as the provider converts it
        ),
    ),
    Case(
        "config-objects",
        "typo",
        2,
        error=(
            "config-objects/__main__.py:27: aws:sqs/queue:Queue resource 'hosts':",
            "visibilityTimeoutSeconds='soon' is not a number",
        ),
    ),
    Case(
        "transforms",  # register_stack_transformation (autotag.py) and register_resource_transform
        "dev",
        0,
        shows=(
            '"tags": {"user:Project": "autotag", "user:Cost Center": "1234", "Name": "jobs"}, '
            '"messageRetentionSeconds": 1209600,',
        ),
    ),
    Case("assets", "dev", 2, error=("FileArchive path 'build/vendor' does not exist", "worker")),
    Case(
        "random-provider",
        "dev",
        2,
        error=(
            "random-provider/__main__.py:5:",
            "No module named 'pulumi_random'",
            "pip install pulumi-random",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_corpus_program_renders_or_fails_as_the_cli(case: Case):
    text = preview("--program", str(CORPUS / case.program), "--stack", case.stack, *case.args)
    assert text.returncode == case.exit_code, text.stdout + text.stderr
    assert "Traceback" not in text.stderr and "Task exception" not in text.stderr
    if case.error:
        assert text.stderr.startswith("error: ") and len(text.stderr.strip().splitlines()) == 1, text.stderr
        for expected in case.error:
            assert expected in text.stderr
        return
    document = json.loads(
        preview("--program", str(CORPUS / case.program), "--stack", case.stack, "--json", *case.args).stdout
    )
    shown = json.dumps(document)
    for expected in case.shows:
        assert expected in shown or expected in text.stdout, expected
    assert (
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9" not in shown
    )  # unknowns print as [unknown], not the sentinel


def test_secrets_never_printed():
    program = CORPUS / "secrets"
    for output in (
        preview("--program", str(program), "--stack", "dev").stdout,
        preview("--program", str(program), "--stack", "dev", "--json").stdout,
    ):
        assert "static-webhook-signing-key" not in output
        assert (
            "aGVsbG8tY2lwaGVydGV4dC1ub3QtYS1wYXNzd29yZA" not in output
        )  # the ciphertext never reaches the program
        assert "[secret]" in output
