"""Shapes seen in published Pulumi Python programs for AWS (reduced here), rendered as the engine has them."""

from __future__ import annotations

import http.server
import json
import os
import threading
from pathlib import Path

import pytest

from preview.cli import _json_default, as_json
from preview.gate import GateResult, evaluate, load_policies
from preview.values import UNKNOWN
from tests.preview.test_semantics import render


def test_a_resource_passed_as_an_input_is_its_id(tmp_path: Path):
    """`vpc_id=vpc` (aws-py-dynamicresource): the provider gets the VPC's id, not a Python object."""
    stack = render(
        tmp_path,
        """
        vpc = aws.ec2.Vpc("app-vpc", cidr_block="172.31.0.0/16")
        subnet = aws.ec2.Subnet("app-subnet", cidr_block="172.31.0.0/20", vpc_id=vpc)
        association = aws.ec2.MainRouteTableAssociation("main", route_table_id="rtb-1", vpc_id=vpc)
        group = aws.rds.SubnetGroup("db", subnet_ids=[subnet, subnet.id])
        """,
    )
    by_name = {resource.name: resource for resource in stack.resources}
    vpc_id = by_name["app-vpc"].outputs["id"]
    assert by_name["app-subnet"].inputs["vpcId"] == vpc_id
    assert by_name["main"].inputs["vpcId"] == vpc_id
    assert by_name["db"].inputs["subnetIds"] == [by_name["app-subnet"].outputs["id"]] * 2
    assert "object at 0x" not in json.dumps(as_json(stack, GateResult([], [], 0)))


def test_an_exported_resource_or_lookup_result_is_a_map_of_its_properties(tmp_path: Path):
    """`pulumi.export("bucket", bucket)` and exporting a `get_ami` result, as the SDK's Stack registers them."""
    stack = render(
        tmp_path,
        """
        bucket = aws.s3.Bucket("site", bucket="acme-site")
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"],
            filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-*"])])
        pulumi.export("bucket", bucket)
        pulumi.export("network", {"vpc": vpc, "cidr": vpc.cidr_block})
        pulumi.export("ami", ami)
        """,
    )
    bucket = stack.outputs["bucket"]
    assert bucket["bucket"] == "acme-site" and bucket["arn"] == "arn:aws:s3:::acme-site"
    assert bucket["urn"].endswith("aws:s3/bucket:Bucket::site")
    assert "@isPulumiResource" not in bucket
    assert stack.outputs["network"]["vpc"]["cidr_block"] == "10.0.0.0/16"
    assert stack.outputs["ami"]["imageId"].startswith("ami-")
    shown = json.dumps(as_json(stack, GateResult([], [], 0)))
    assert "object at 0x" not in shown and "GetAmiResult" not in shown


def test_a_resource_read_by_id_is_named_by_its_id(tmp_path: Path):
    """`aws.s3.Bucket.get("existing", "acme-legacy-uploads")`: ARNs and URLs come from the id, not the logical name."""
    stack = render(
        tmp_path,
        """
        bucket = aws.s3.Bucket.get("existing", "acme-legacy-uploads")
        queue = aws.sqs.Queue.get("jobs", "https://sqs.us-east-2.amazonaws.com/111122223333/legacy-jobs")
        vpc = aws.ec2.Vpc.get("main", "vpc-0abc")
        role = aws.iam.Role.get("ci", "ci-deployer")
        topic = aws.sns.Topic.get("alerts", "arn:aws:sns:eu-west-1:111122223333:ops-alerts")
        imported = aws.s3.Bucket("kept", bucket="acme-kept", opts=pulumi.ResourceOptions(import_="acme-kept"))
        pulumi.export("bucketArn", bucket.arn)
        pulumi.export("bucketName", bucket.bucket)
        pulumi.export("queueUrl", queue.url)
        pulumi.export("queueArn", queue.arn)
        pulumi.export("vpcId", vpc.id)
        pulumi.export("vpcCidr", vpc.cidr_block)
        pulumi.export("roleArn", role.arn)
        pulumi.export("topicArn", topic.arn)
        pulumi.export("importedId", imported.id)
        """,
    )
    assert stack.outputs["bucketArn"] == "arn:aws:s3:::acme-legacy-uploads"
    assert stack.outputs["bucketName"] == "acme-legacy-uploads"
    assert stack.outputs["queueUrl"] == "https://sqs.us-east-2.amazonaws.com/111122223333/legacy-jobs"
    assert stack.outputs["queueArn"] == "arn:aws:sqs:us-east-2:111122223333:legacy-jobs"
    assert stack.outputs["vpcId"] == "vpc-0abc"
    assert stack.outputs["vpcCidr"] == UNKNOWN  # read from the cloud by the CLI; unknown offline
    assert stack.outputs["roleArn"] == "arn:aws:iam::123456789012:role/ci-deployer"
    assert stack.outputs["topicArn"] == "arn:aws:sns:eu-west-1:111122223333:ops-alerts"
    assert stack.outputs["importedId"] == "acme-kept"


def test_a_component_registering_a_resource_among_its_outputs_renders(tmp_path: Path):
    """`self.register_outputs({"bucket": self.bucket})`: before, rehydrating the reference crashed the
    run with "Task ... got Future attached to a different loop"."""
    stack = render(
        tmp_path,
        """
        class Site(pulumi.ComponentResource):
            def __init__(self, name, opts=None):
                super().__init__("acme:web:Site", name, None, opts)
                self.bucket = aws.s3.Bucket(f"{name}-bucket", opts=pulumi.ResourceOptions(parent=self))
                self.register_outputs({"bucket": self.bucket, "arn": self.bucket.arn})

        site = Site("site")
        pulumi.export("siteBucket", site.bucket.bucket)
        """,
    )
    component = next(resource for resource in stack.resources if resource.type == "acme:web:Site")
    assert component.outputs == {"bucket": "site-bucket", "arn": "arn:aws:s3:::site-bucket"}
    assert stack.outputs["siteBucket"] == "site-bucket"


def test_lambda_code_assembled_in_the_program_shows_its_members(tmp_path: Path):
    """`code=pulumi.AssetArchive({".": FileArchive(...)})` (aws-py-stepfunctions) and `StringAsset` members."""
    (tmp_path / "step_hello").mkdir(parents=True)
    (tmp_path / "step_hello" / "hello.py").write_text("def handler(event, context):\n    return 1\n")
    stack = render(
        tmp_path,
        """
        role = aws.iam.Role("fn", assume_role_policy="{}")
        code = pulumi.AssetArchive({
            ".": pulumi.FileArchive("./step_hello"),
            "extra.py": pulumi.StringAsset("X = 1\\n"),
            "vendor": pulumi.RemoteArchive("https://example.com/vendor.zip"),
        })
        aws.lambda_.Function("hello", role=role.arn, runtime="python3.12", handler="hello.handler", code=code)
        """,
    )
    shown = json.dumps(as_json(stack, GateResult([], [], 0)), default=_json_default)
    assert "object at 0x" not in shown
    function = next(r for r in as_json(stack, GateResult([], [], 0))["resources"] if r["name"] == "hello")
    code = json.loads(json.dumps(function["inputs"]["code"], default=_json_default))
    assert code == {
        "assets": {
            ".": {"asset": "./step_hello"},
            "extra.py": {"text": "X = 1\n"},
            "vendor": {"uri": "https://example.com/vendor.zip"},
        }
    }


def test_arns_whose_resource_part_is_not_just_the_name(tmp_path: Path):
    """aws-py-resources / aws-py-stepfunctions / aws-py-fargate: each ARN in its service's own format."""
    stack = render(
        tmp_path,
        """
        rule = aws.cloudwatch.EventRule("logins", name="logins", event_pattern="{}")
        custom = aws.cloudwatch.EventRule("orders", name="orders", event_bus_name="shop", event_pattern="{}")
        alarm = aws.cloudwatch.MetricAlarm("cpu", name="cpu-high", comparison_operator="GreaterThanThreshold",
            evaluation_periods=1, metric_name="CPUUtilization", namespace="AWS/EC2", period=60, statistic="Average",
            threshold=80)
        repo = aws.ecr.Repository("app", name="app")
        stream = aws.kinesis.Stream("events", name="events", shard_count=1)
        machine = aws.sfn.StateMachine("flow", name="flow", role_arn="arn:aws:iam::123456789012:role/x", definition="{}")
        db = aws.rds.Instance("db", identifier="orders-db", engine="postgres", instance_class="db.t3.micro",
            allocated_storage=20, username="app", password="not-a-real-one")
        task = aws.ecs.TaskDefinition("task", family="web", container_definitions="[]")
        for key, value in {"rule": rule.arn, "custom": custom.arn, "alarm": alarm.arn, "repo": repo.arn,
                           "repoUrl": repo.repository_url, "stream": stream.arn, "machine": machine.arn,
                           "machineId": machine.id, "db": db.arn, "task": task.arn}.items():
            pulumi.export(key, value)
        """,
    )
    prefix = "arn:aws:{}:eu-west-1:123456789012:"
    assert stack.outputs["rule"] == prefix.format("events") + "rule/logins"
    assert stack.outputs["custom"] == prefix.format("events") + "rule/shop/orders"
    assert stack.outputs["alarm"] == prefix.format("cloudwatch") + "alarm:cpu-high"
    assert stack.outputs["repo"] == prefix.format("ecr") + "repository/app"
    assert stack.outputs["repoUrl"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
    assert stack.outputs["stream"] == prefix.format("kinesis") + "stream/events"
    assert (
        stack.outputs["machine"]
        == stack.outputs["machineId"]
        == prefix.format("states") + "stateMachine:flow"
    )
    assert stack.outputs["db"] == prefix.format("rds") + "db:orders-db"
    assert stack.outputs["task"] == UNKNOWN  # task-definition/web:<revision AWS assigns>


# --- Two passes: what `pulumi preview` knows, and plausible values for the policies -----------------

LAMBDA_WITH_ROLE = """
role = aws.iam.Role("fn-role", assume_role_policy={
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
fn = aws.lambda_.Function("fn", role=role.arn, runtime="python3.12", handler="index.handler",
    code=pulumi.AssetArchive({"index.py": pulumi.StringAsset("def handler(event, context):\\n    return 1\\n")}))
"""


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without AWS settings, as a reviewer's laptop or a CI runner without a role."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def test_a_boto3_call_inside_apply_on_an_unknown_arn_does_not_fail_the_preview(
    tmp_path: Path, no_aws_environment
):
    """`fn.arn.apply(lambda arn: boto3...)`: the ARN is unknown during `pulumi preview`, the callback does
    not run and the program renders; before, the twin ran it on a made-up ARN and exited 2 (NoRegionError)."""
    stack = render(
        tmp_path / "program",
        LAMBDA_WITH_ROLE
        + """
import boto3

def tag_function(arn):
    boto3.client("lambda").tag_resource(Resource=arn, Tags={"owner": "search-team"})
    return arn

pulumi.export("taggedArn", fn.arn.apply(tag_function))
pulumi.export("functionName", fn.name)
""",
    )
    assert stack.preview is not None
    assert stack.preview.outputs["taggedArn"] == UNKNOWN  # the CLI shows output<string>
    assert stack.preview.outputs["functionName"] == "fn"  # auto-named by the provider's check: known
    assert stack.outputs["taggedArn"] == UNKNOWN  # the plausible pass: the callback failed, so unknown
    assert len(stack.callback_failures) == 1
    assert (
        f"__main__.py:{_line_of(tmp_path / 'program', 'boto3.client')} failed" in stack.callback_failures[0]
    )


def test_a_created_resources_computed_outputs_are_unknown_only_in_the_preview_pass(tmp_path: Path):
    stack = render(
        tmp_path,
        """
        queue = aws.sqs.Queue("jobs", name="jobs")
        pulumi.export("queueArn", queue.arn)
        pulumi.export("queueUrl", queue.url)
        pulumi.export("queueId", queue.id)
        pulumi.export("queueName", queue.name.apply(lambda name: name.upper()))
        """,
    )
    assert stack.preview is not None
    previewed = stack.preview.outputs
    assert previewed["queueArn"] == previewed["queueUrl"] == previewed["queueId"] == UNKNOWN
    assert previewed["queueName"] == "JOBS"  # an input: known, and callbacks on it run
    assert stack.outputs["queueArn"] == "arn:aws:sqs:eu-west-1:123456789012:jobs"  # for the policies
    tree = as_json(stack, GateResult([], [], 0))
    assert tree["preview"]["outputs"]["queueArn"] == "[unknown]"
    assert tree["outputs"]["queueArn"] == "arn:aws:sqs:eu-west-1:123456789012:jobs"


def test_a_failing_callback_makes_the_rules_needing_its_value_cannot_decide(
    tmp_path: Path, no_aws_environment
):
    """The redrive policy built in a callback that calls AWS: the rules needing it cannot decide,
    and say which callback, instead of the program failing or the queue passing unjudged."""
    stack = render(
        tmp_path / "program",
        """
        import boto3

        def redrive(arn):
            limit = boto3.client("ssm").get_parameter(Name="/jobs/max-receives")["Parameter"]["Value"]
            return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": int(limit)})

        dlq = aws.sqs.Queue("jobs-dlq", name="jobs-dlq", message_retention_seconds=1209600)
        queue = aws.sqs.Queue("jobs", name="jobs", visibility_timeout_seconds=900, redrive_policy=dlq.arn.apply(redrive))
        """,
    )
    queue = next(resource for resource in stack.of_type("aws:sqs/queue:Queue") if resource.name == "jobs")
    assert queue.inputs["redrivePolicy"] == UNKNOWN
    where = f"__main__.py:{_line_of(tmp_path / 'program', 'boto3.client')} failed"
    assert where in queue.unknown_from["redrivePolicy"]
    result = evaluate(stack.resources, load_policies())
    notes = [note for note in result.could_not_run if "redrivePolicy of jobs" in note.message]
    assert {note.policy for note in notes} >= {"dlq-is-alarmed"}, result.could_not_run
    assert all(where in note.message and note.level == "advisory" for note in notes)
    assert not [v for v in result.violations if v.policy == "dead-letter-queue-required" and "jobs" in v.urn]


def test_the_plausible_pass_never_reaches_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With credentials and an endpoint in the environment, a callback the CLI would not run still
    makes no request: the plausible pass runs it on made-up ARNs. A callback on a known value runs
    in `pulumi preview` too, and reaches the endpoint here as there."""
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            requests.append(json.loads(body or b"{}").get("QueueNamePrefix", "other"))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        stack = render(
            tmp_path,
            LAMBDA_WITH_ROLE
            + """
import boto3
fn.arn.apply(lambda arn: boto3.client("lambda").tag_resource(Resource=arn, Tags={"owner": "x"}))
fn.name.apply(lambda name: boto3.client("sqs").list_queues(QueueNamePrefix=name))
""",
        )
    finally:
        server.shutdown()
    assert requests == ["fn", "fn"]  # the callback on the known name, in each pass; none on the ARN
    assert len(stack.callback_failures) == 1 and "does not call AWS" in stack.callback_failures[0]


def _line_of(program_dir: Path, text: str) -> int:
    lines = (program_dir / "__main__.py").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "*",
            "Resource": "*",
        }
    ],
}
POLICY_TYPED_PROPERTIES = {
    # resource (as other teams write it) -> the output that must come back as the policy's JSON
    "role": ('aws.iam.Role("r", assume_role_policy=DOC)', "assume_role_policy"),
    "role-inline": (
        'aws.iam.Role("r", assume_role_policy="{}", inline_policies=[aws.iam.RoleInlinePolicyArgs(name="i", policy=DOC)])',
        "inline_policies[0].policy",
    ),
    "iam-policy": ('aws.iam.Policy("p", policy=DOC)', "policy"),
    "role-policy": ('aws.iam.RolePolicy("rp", role="worker", policy=DOC)', "policy"),
    "queue-policy": ('aws.sqs.QueuePolicy("qp", queue_url=aws.sqs.Queue("q").url, policy=DOC)', "policy"),
    "queue-policy-property": ('aws.sqs.Queue("q", policy=DOC)', "policy"),
    "bucket-policy": ('aws.s3.BucketPolicy("bp", bucket=aws.s3.Bucket("b").id, policy=DOC)', "policy"),
    "topic-policy": ('aws.sns.TopicPolicy("tp", arn=aws.sns.Topic("t").arn, policy=DOC)', "policy"),
    "topic-policy-property": ('aws.sns.Topic("t", policy=DOC)', "policy"),
    "kms-key": ('aws.kms.Key("k", policy=DOC)', "policy"),
    "redrive": (
        'aws.sqs.Queue("q", redrive_policy={"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:d", "maxReceiveCount": 5})',
        "redrive_policy",
    ),
    "redrive-allow": (
        'aws.sqs.RedriveAllowPolicy("ra", queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/d", '
        'redrive_allow_policy={"redrivePermission": "allowAll"})',
        "redrive_allow_policy",
    ),
}


@pytest.mark.parametrize("name", sorted(POLICY_TYPED_PROPERTIES))
def test_a_structured_policy_comes_back_as_its_json(tmp_path: Path, name: str):
    """pulumi-aws takes a structure where it stores a JSON string and returns the string; the SDK
    asserts the declared `str` (before: AssertionError "expected a value of type <class 'str'>")."""
    constructor, output = POLICY_TYPED_PROPERTIES[name]
    attribute, _, index = output.partition("[0].")
    value = f"resource.{attribute}" + (f".apply(lambda items: items[0].{index})" if index else "")
    stack = render(
        tmp_path,
        f"""
        DOC = {POLICY!r}
        resource = {constructor}
        pulumi.export("document", {value})
        pulumi.export("keys", {value}.apply(lambda text: sorted(json.loads(text))))
        """,
    )
    assert stack.preview is not None
    for outputs in (stack.preview.outputs, stack.outputs):
        document = outputs["document"]
        assert isinstance(document, str), document
        expected = _redrive_document(constructor) or POLICY
        assert json.loads(document) == expected
        assert outputs["keys"] == sorted(expected)


def _redrive_document(constructor: str) -> dict | None:
    if "redrive_policy=" in constructor:
        return {"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:d", "maxReceiveCount": 5}
    if "redrive_allow_policy=" in constructor:
        return {"redrivePermission": "allowAll"}
    return None


def test_values_of_other_types_come_back_in_the_declared_type(tmp_path: Path):
    """A number given to a string property comes back as its text, a numeric string to a number as the number."""
    stack = render(
        tmp_path,
        """
        parameter = aws.ssm.Parameter("limit", type="String", value=5)
        queue = aws.sqs.Queue("jobs", delay_seconds="5")
        pulumi.export("value", parameter.value.apply(lambda value: value + "/s"))
        pulumi.export("delay", queue.delay_seconds.apply(lambda seconds: seconds * 2))
        """,
    )
    assert stack.preview is not None
    assert stack.preview.outputs == stack.outputs == {"value": "5/s", "delay": 10}


def test_a_lookup_given_a_failed_callbacks_value_is_unknown(tmp_path: Path, no_aws_environment):
    """`get_policy_document_output` fed by a callback that failed on plausible values: the document is
    unknown (the SDK skips an invoke with unknown arguments), never a JSON text holding the sentinel."""
    stack = render(
        tmp_path / "program",
        """
        import boto3

        queue = aws.sqs.Queue("jobs", name="jobs")
        account = queue.arn.apply(lambda arn: boto3.client("sts").get_caller_identity()["Account"])
        document = aws.iam.get_policy_document_output(statements=[{
            "actions": ["sqs:SendMessage"],
            "resources": [queue.arn],
            "principals": [{"type": "AWS", "identifiers": [account]}],
        }])
        aws.sqs.QueuePolicy("jobs", queue_url=queue.url, policy=document.json)
        """,
    )
    policy = stack.of_type("aws:sqs/queuePolicy:QueuePolicy")[0]
    assert policy.inputs["policy"] == UNKNOWN
    assert stack.callback_failures


def test_a_resource_created_in_a_callback_on_an_unknown_is_not_in_the_preview(tmp_path: Path):
    """https://www.pulumi.com/docs/iac/concepts/inputs-outputs/apply/: a resource created inside an
    apply does not appear in `pulumi preview` unless the value is known; the policies still see it."""
    stack = render(
        tmp_path,
        """
        queue = aws.sqs.Queue("jobs", name="jobs")
        queue.arn.apply(lambda arn: aws.sns.Topic("jobs-events", tags={"queue": arn}))
        queue.name.apply(lambda name: aws.sns.Topic(f"{name}-alerts"))
        """,
    )
    assert stack.preview is not None
    assert {r.name for r in stack.preview.resources if r.type == "aws:sns/topic:Topic"} == {"jobs-alerts"}
    assert {r.name for r in stack.of_type("aws:sns/topic:Topic")} == {"jobs-events", "jobs-alerts"}


def test_a_callback_that_fails_before_its_body_runs_is_named_by_where_the_program_defined_it(tmp_path: Path):
    """aws-py-langserve (pulumi/examples): `Output.all(a, b).apply(lambda a, b: ...)` passes one list,
    so the lambda's TypeError has only the SDK's frames; the report still names the program's line."""
    stack = render(
        tmp_path / "program",
        """
        key = aws.kms.Key("key")
        parameter = aws.ssm.Parameter("parameter", type="SecureString", value="x", key_id=key.key_id)
        role = aws.iam.Role(
            "role",
            assume_role_policy="{}",
            inline_policies=[aws.iam.RoleInlinePolicyArgs(
                name="secrets",
                policy=pulumi.Output.all(parameter.arn, key.arn).apply(lambda parameter_arn, key_arn: json.dumps({
                    "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": [parameter_arn, key_arn]}]
                })),
            )],
        )
        """,
    )
    assert stack.preview is not None  # the CLI's preview: the ARNs are unknown, the callback never runs
    assert len(stack.callback_failures) == 1
    line = _line_of(tmp_path / "program", "pulumi.Output.all(parameter.arn")
    assert f"__main__.py:{line} failed" in stack.callback_failures[0]
    assert "missing 1 required positional argument: 'key_arn'" in stack.callback_failures[0]


def test_resource_transforms_run_as_the_engine_runs_them(tmp_path: Path):
    """`register_resource_transform` and `ResourceOptions(transforms=...)` (the transforms docs'
    auto-tagging and per-component patterns): the engine calls them back before it registers each
    resource (own, then the parent's, then the stack's); the SDK's mock monitor only records them."""
    stack = render(
        tmp_path / "program",
        """
        def retention(args):
            if args.type_ == "aws:sqs/queue:Queue":
                return pulumi.ResourceTransformResult(
                    props={**args.props, "messageRetentionSeconds": 1209600}, opts=args.opts
                )
            return None

        def team_tag(args):
            if "tags" in args.props or args.custom:
                tags = {**(args.props.get("tags") or {}), "team": "search"}
                return pulumi.ResourceTransformResult(props={**args.props, "tags": tags}, opts=args.opts)
            return None

        before = aws.sqs.Queue("before")
        pulumi.runtime.register_resource_transform(retention)

        class Pipeline(pulumi.ComponentResource):
            def __init__(self, name, opts=None):
                super().__init__("acme:index:Pipeline", name, None, opts)
                self.queue = aws.sqs.Queue(f"{name}-jobs", opts=pulumi.ResourceOptions(parent=self))
                self.register_outputs({})

        pipeline = Pipeline("ingest", opts=pulumi.ResourceOptions(transforms=[team_tag]))
        after = aws.sqs.Queue("after")
        """,
    )
    by_name = {resource.name: resource for resource in stack.resources}
    assert "messageRetentionSeconds" not in by_name["before"].inputs  # registered before the transform
    assert by_name["after"].inputs["messageRetentionSeconds"] == 1209600
    assert "tags" not in by_name["after"].inputs  # the component's transform is not the stack's
    jobs = by_name["ingest-jobs"]
    assert jobs.inputs["tags"] == {"team": "search"}  # inherited from its parent's options
    assert jobs.inputs["messageRetentionSeconds"] == 1209600
    assert stack.preview is not None
    previewed = {resource.name: resource for resource in stack.preview.resources}
    assert previewed["ingest-jobs"].inputs["tags"] == {"team": "search"}
