"""Preview semantics in-process: dry run, unknowns, data sources, secrets, project files, errors, policy config."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from preview.cli import as_json
from preview.gate import GateResult, PolicyConfigError, Violation, evaluate, load_pack_config, load_policies
from preview.project import ProjectError, load_project
from preview.render import ProgramError, RenderedStack, render_program
from preview.values import UNKNOWN

HEADER = "import json\n\nimport pulumi\nimport pulumi_aws as aws\n\n"


def program(
    directory: Path, body: str, project: str = "name: other-team\nruntime: python\n", stack: str = ""
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(textwrap.dedent(project))
    (directory / "Pulumi.dev.yaml").write_text(textwrap.dedent(stack) or "config:\n  aws:region: eu-west-1\n")
    (directory / "__main__.py").write_text(HEADER + textwrap.dedent(body))
    return directory


def render(directory: Path, body: str, **kwargs: str) -> RenderedStack:
    return render_program(program(directory, body, **kwargs), "dev")


def test_dry_run_and_computed_outputs_unknown(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        instance = aws.ec2.Instance("web", ami="ami-12345678", instance_type="t3.micro")
        queue = aws.sqs.Queue("jobs", name="jobs")
        pulumi.export("dryRun", pulumi.runtime.is_dry_run())
        pulumi.export("privateIp", instance.private_ip)
        pulumi.export("endpoint", instance.private_ip.apply(lambda ip: ip + ":8080"))
        pulumi.export("queueUrl", queue.url)
        pulumi.export("queueArn", queue.arn)
        """,
    )
    assert stack.outputs["dryRun"] is True
    assert stack.outputs["privateIp"] == UNKNOWN and stack.outputs["endpoint"] == UNKNOWN
    assert stack.outputs["queueUrl"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"
    assert stack.outputs["queueArn"] == "arn:aws:sqs:eu-west-1:123456789012:jobs"
    assert as_json(stack, GateResult([], [], 0))["outputs"]["privateIp"] == "[unknown]"


def test_policy_document_computed_as_the_provider_renders_it(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        document = aws.iam.get_policy_document(statements=[
            aws.iam.GetPolicyDocumentStatementArgs(
                sid="Read",
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                principals=[aws.iam.GetPolicyDocumentStatementPrincipalArgs(type="AWS", identifiers=["arn:aws:iam::111122223333:root"])],
                conditions=[aws.iam.GetPolicyDocumentStatementConditionArgs(test="Bool", variable="aws:SecureTransport", values=["true"])],
            ),
        ])
        role = aws.iam.Role("role", assume_role_policy=document.json)
        pulumi.export("json", document.json)
        pulumi.export("minified", document.minified_json)
        """,
    )
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"],
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    assert stack.outputs["json"] == json.dumps(expected, indent=2)
    assert stack.outputs["minified"] == json.dumps(expected, separators=(",", ":"))
    assert stack.of_type("aws:iam/role:Role")[0].inputs["assumeRolePolicy"] == json.dumps(expected, indent=2)


def test_lookups_have_plausible_deterministic_values_and_never_echo_arguments(tmp_path: Path):
    body = """
        zones = aws.get_availability_zones(state="available")
        ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"], filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-*"])])
        ecs_ami = aws.ssm.get_parameter(name="/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id")
        app_setting = aws.ssm.get_parameter_output(name="/app/feature-flags")
        plain_setting = aws.ssm.get_parameter(name="/app/feature-flags")
        endpoint = aws.ec2.get_vpc_endpoint_output(service_name="com.amazonaws.eu-west-1.s3")
        zone = aws.route53.get_zone(name="example.com")
        certificate = aws.acm.get_certificate(domain="example.com", statuses=["ISSUED"])
        pulumi.export("zones", zones.names)
        pulumi.export("ami", ami.id)
        pulumi.export("ecsAmi", ecs_ami.value)
        pulumi.export("appSetting", app_setting.value)
        pulumi.export("plainSetting", plain_setting.value)
        pulumi.export("endpointId", endpoint.id)
        pulumi.export("endpointService", endpoint.service_name)
        pulumi.export("zoneId", zone.zone_id)
        pulumi.export("certificateArn", certificate.arn)
        pulumi.export("account", aws.get_caller_identity().account_id)
        """
    first = render(tmp_path / "one", body)
    second = render(tmp_path / "two", body)
    outputs = first.outputs
    assert outputs == second.outputs  # deterministic
    assert outputs["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert outputs["ami"].startswith("ami-") and len(outputs["ami"]) == 21
    assert outputs["ecsAmi"].startswith("ami-") and outputs["ecsAmi"] != outputs["ami"]
    assert outputs["appSetting"] == UNKNOWN  # an application's own parameter cannot be known offline
    assert (
        outputs["plainSetting"] is None
    )  # the plain form cannot carry an unknown: None, never the name echoed
    assert outputs["endpointId"] == UNKNOWN and outputs["endpointService"] == UNKNOWN  # not echoed back
    assert outputs["zoneId"].startswith("Z") and outputs["certificateArn"].startswith(
        "arn:aws:acm:eu-west-1:"
    )
    assert outputs["account"] == "123456789012"


def test_secrets_are_marked_wherever_they_flow(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        token = pulumi.Output.secret("s3cr3t-token")
        parameter = aws.ssm.Parameter("token", type="SecureString", value=token)
        pulumi.export("token", token)
        pulumi.export("derived", token.apply(lambda t: t.upper()))
        pulumi.export("parameterValue", parameter.value)
        """,
    )
    shown = json.dumps(as_json(stack, GateResult([], [], 0)))
    assert "s3cr3t-token" not in shown and "S3CR3T-TOKEN" not in shown
    parameter = stack.of_type("aws:ssm/parameter:Parameter")[0]
    assert (
        "value" in parameter.secret_inputs and parameter.inputs["value"] == "s3cr3t-token"
    )  # plain for policies
    assert {"token", "derived", "parameterValue"} <= stack.secret_outputs


def test_secure_config_is_a_secret_unknown(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        password = pulumi.Config().require_secret("dbPassword")
        aws.ssm.Parameter("db", type="SecureString", value=password)
        pulumi.export("password", password)
        """,
        stack="config:\n  aws:region: eu-west-1\n  other-team:dbPassword:\n    secure: v1:abc:ZGVmZ2hp\n",
    )
    assert stack.outputs["password"] == UNKNOWN and "password" in stack.secret_outputs
    assert stack.of_type("aws:ssm/parameter:Parameter")[0].inputs["value"] == UNKNOWN


def test_error_names_the_program_file_and_line(tmp_path: Path):
    with pytest.raises(ProgramError) as failure:
        render(
            tmp_path,
            """
            bucket = aws.s3.Bucket("logs")
            name = None
            full = name + "-suffix"
            """,
        )
    message = str(failure.value)
    assert "__main__.py:9: TypeError: unsupported operand type(s) for +: 'NoneType' and 'str'" in message
    assert "asyncio" not in message and "\n" not in message


def test_missing_required_input_names_the_line(tmp_path: Path):
    with pytest.raises(ProgramError, match=r"__main__\.py:6: TypeError: .*assume_role_policy"):
        render(tmp_path, 'aws.iam.Role("role")\n')


def test_sibling_module_of_a_main_subfolder_imports(tmp_path: Path):
    program(tmp_path, "", project="name: sub\nruntime: python\nmain: src/\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "helpers.py").write_text("SUFFIX = '-from-helpers'\n")
    (tmp_path / "src" / "data.txt").write_text("x")
    (tmp_path / "src" / "__main__.py").write_text(
        HEADER + "from helpers import SUFFIX\n"
        "aws.s3.BucketObject('o', bucket='b', source=pulumi.FileAsset('data.txt'))\n"
        "pulumi.export('name', 'bucket' + SUFFIX)\n"
    )
    assert render_program(tmp_path, "dev").outputs == {"name": "bucket-from-helpers"}


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (
            "name: p\nruntime: python\nconfig:\n  size:\n    type: map\n",
            r"Pulumi\.yaml:4: config\.size: type 'map' is not",
        ),
        (
            "name: p\nruntime:\n  name: python\n  options:\n    toolchain: pipenv\n",
            r"Pulumi\.yaml:5: .*toolchain 'pipenv'",
        ),
        (
            "name: p\nruntime: python\nconfig:\n  zones:\n    type: array\n",
            r"Pulumi\.yaml:4: config\.zones: an array declares",
        ),
        ("name: p\nruntime:\n  name: python\n  version: 3\n", r"Pulumi\.yaml:2: runtime: unknown key"),
        ("name: p\nruntime: nodejs\n", r"runtime is 'nodejs'"),
        ("runtime: python\n", r"missing a 'name'"),
        (
            "name: p\nruntime: python\nconfig:\n  aws:region:\n    type: string\n",
            r"not namespaced by the project",
        ),
    ],
)
def test_project_file_rejected_as_the_cli_rejects_it(tmp_path: Path, project: str, expected: str):
    program(tmp_path, "", project=project)
    with pytest.raises(ProjectError, match=expected):
        load_project(tmp_path)


def test_stack_config_checked_against_declarations(tmp_path: Path):
    project = "name: p\nruntime: python\nconfig:\n  count:\n    type: integer\n  label:\n    type: string\n"
    program(tmp_path, "", project=project, stack="config:\n  p:count: many\n  p:label: x\n")
    with pytest.raises(
        ProjectError, match=r"Pulumi\.dev\.yaml:2: Stack 'dev' with configuration key 'count' must be"
    ):
        load_project(tmp_path).load_stack("dev")
    program(tmp_path, "", project=project, stack="config:\n  p:count: 3\n")
    with pytest.raises(
        ProjectError, match=r"Pulumi\.yaml:6: Stack 'dev' is missing configuration value 'label'"
    ):
        load_project(tmp_path).load_stack("dev")
    assert load_project(tmp_path).load_stack("dev", {"p:label": "x"}).values["p:count"] == "3"


def test_esc_environment_says_which_values_to_pass(tmp_path: Path):
    project = "name: p\nruntime: python\nconfig:\n  dbHost:\n    type: string\n  dbPort:\n    type: integer\n"
    program(
        tmp_path,
        "",
        project=project,
        stack="environment:\n  - acme/prod-db\nconfig:\n  aws:region: us-east-1\n",
    )
    with pytest.raises(ProjectError) as failure:
        load_project(tmp_path).load_stack("dev")
    assert "Pulumi.dev.yaml:1: the stack imports ESC environment(s) acme/prod-db" in str(failure.value)
    assert "-c dbHost=VALUE -c dbPort=VALUE" in str(failure.value)


def test_stack_config_dir(tmp_path: Path):
    program(
        tmp_path,
        "pulumi.export('v', pulumi.Config().require('v'))\n",
        project="name: p\nruntime: python\nstackConfigDir: stacks\n",
    )
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  p:v: from-stacks\n")
    assert render_program(tmp_path, "dev").outputs == {"v": "from-stacks"}


def write_config(tmp_path: Path, config: object) -> Path:
    path = tmp_path / "policy-config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"dead-letter-queue-required": {"minMaxReceiveCount": 0}},
            r"minMaxReceiveCount=0: must be >= 1 \(allowed: \[1, ",
        ),
        (
            {"work-queue-long-polling": {"minReceiveWaitTimeSeconds": 25}},
            r"minReceiveWaitTimeSeconds=25: must be <= 20",
        ),
        (
            {"visibility-covers-processing": {"maxProcessingSeconds": "900"}},
            r"maxProcessingSeconds=\"900\": must be of type integer",
        ),
        ({"visibility-covers-processing": {"maxProcesingSeconds": 900}}, r"no such setting"),
        ({"dlq-is-alarmed": "blocking"}, r"enforcementLevel='blocking': must be one of"),
        ("[1, 2]", r"expected an object of policy names"),
        ('{"dlq-is-alarmed": ', r"policy-config\.json:1: not valid JSON"),
    ],
)
def test_policy_config_checked_against_each_policy_schema(tmp_path: Path, config: object, expected: str):
    with pytest.raises(PolicyConfigError, match=expected):
        load_pack_config(write_config(tmp_path, config), load_policies())


def test_remediate_blocks_like_mandatory(tmp_path: Path):
    assert GateResult(
        [Violation("p", EnforcementLevel.REMEDIATE.value, "urn", "m")], [], 1
    ).blocking_violations
    stack = render(tmp_path, 'aws.sqs.Queue("lonely", name="lonely")\n')
    config = load_pack_config(write_config(tmp_path, {"all": "remediate"}), load_policies())
    result = evaluate(stack.resources, load_policies(), config)
    assert result.violations and {v.level for v in result.violations} == {"remediate"}
    assert result.blocking_violations == result.violations


def test_an_explicit_provider_region_is_used_for_resources_and_lookups(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        tokyo = aws.Provider("tokyo", region="ap-northeast-1")
        queue = aws.sqs.Queue("q", name="q", opts=pulumi.ResourceOptions(provider=tokyo))
        zones = aws.get_availability_zones(opts=pulumi.InvokeOptions(provider=tokyo))
        pulumi.export("url", queue.url)
        pulumi.export("zones", zones.names)
        pulumi.export("home", aws.get_region().region)
        """,
    )
    assert stack.outputs["url"] == "https://sqs.ap-northeast-1.amazonaws.com/123456789012/q"
    assert stack.outputs["zones"][0] == "ap-northeast-1a" and stack.outputs["home"] == "eu-west-1"


def test_a_policy_message_quoting_a_secret_prints_secret(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        aws.sqs.Queue("q", name=pulumi.Output.secret("hidden-queue-name"))
        """,
    )
    result = evaluate(stack.resources, load_policies())
    assert any(
        "hidden-queue-name" in violation.message for violation in result.violations
    )  # the pack quotes it
    shown = json.dumps(as_json(stack, result))
    assert "hidden-queue-name" not in shown and "[secret]" in shown


def test_a_secret_declaration_needs_an_encrypted_value(tmp_path: Path):
    project = "name: p\nruntime: python\nconfig:\n  token:\n    type: string\n    secret: true\n"
    program(tmp_path, "", project=project, stack="config:\n  aws:region: us-east-1\n  p:token: plain-text\n")
    with pytest.raises(
        ProjectError,
        match=r"Pulumi\.dev\.yaml:3: Stack 'dev' with configuration key 'token' must be encrypted",
    ):
        load_project(tmp_path).load_stack("dev")
    program(tmp_path, "", project=project, stack="config:\n  p:token:\n    secure: v1:x:eHl6\n")
    assert load_project(tmp_path).load_stack("dev").secure_keys == {"p:token"}


def test_an_undeclared_value_from_an_esc_environment_is_explained(tmp_path: Path):
    program(
        tmp_path,
        'pulumi.export("host", pulumi.Config().require("dbHost"))\n',
        stack="environment:\n  - acme/prod-db\nconfig:\n  aws:region: us-east-1\n",
    )
    with pytest.raises(ProgramError) as failure:
        render_program(tmp_path, "dev")
    assert "__main__.py:6: Missing required configuration variable 'other-team:dbHost'" in str(failure.value)
    assert "imports ESC environment(s) acme/prod-db" in str(failure.value) and "-c KEY=VALUE" in str(
        failure.value
    )
    assert render_program(tmp_path, "dev", {"other-team:dbHost": "db.internal"}).outputs == {
        "host": "db.internal"
    }
