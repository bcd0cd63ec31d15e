"""Shapes seen in published Pulumi Python programs for AWS (reduced here), rendered as the engine has them."""

from __future__ import annotations

import json
from pathlib import Path

from preview.cli import _json_default, as_json
from preview.gate import GateResult
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
