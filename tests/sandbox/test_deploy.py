"""`python -m sandbox.deploy`: the rendered stack's data plane at a local endpoint, its outputs as
deployed, re-deploys that change nothing, and exit 2 with one message for everything it refuses."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox.data_plane import deploy, plain_http_policy
from sandbox.deploy import main
from sandbox.local_aws import REGION, client, clients, moto_server
from tests.paths import REPO_ROOT
from worker import contract
from worker.aws_setup import PLAIN_HTTP_TAG

pytestmark = pytest.mark.slow  # moto server, and one run as a subprocess


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def deploy_json(capsys, *arguments: str) -> tuple[int, dict, str]:
    code = main([*arguments, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {}), captured.err


def small_program(directory: Path, stacks: dict[str, int]) -> Path:
    """Another team's program: one bucket notifying one queue, names and visibility from config."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: other-team\nruntime: python\n")
    for stack, visibility in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  aws:region: us-east-1\n  other-team:visibility: '{visibility}'\n"
        )
    (directory / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi
            import pulumi_aws as aws

            config = pulumi.Config()
            jobs = aws.sqs.Queue("jobs", name="other-team-jobs",
                                 visibility_timeout_seconds=config.require_int("visibility"))
            inbox = aws.s3.Bucket("inbox", bucket="other-team-inbox")
            aws.s3.BucketNotification("inbox-events", bucket=inbox.id,
                queues=[aws.s3.BucketNotificationQueueArgs(queue_arn=jobs.arn, events=["s3:ObjectCreated:*"])])
            pulumi.export("jobsQueue", jobs.url)
            pulumi.export("inbox", inbox.bucket)
            """
        )
    )
    return directory


def test_production_outputs_are_the_rendered_names_at_the_endpoint(endpoint, production, capsys):
    code, outputs, err = deploy_json(capsys, "--endpoint", endpoint)
    assert code == 0, err
    declared = production.outputs
    for key in ("bucketName", "indexBucketName"):
        assert outputs[key] == declared[key]
    for key in ("queueUrl", "dlqUrl"):
        assert outputs[key].startswith(endpoint + "/")
        assert outputs[key].rsplit("/", 1)[-1] == declared[key].rsplit("/", 1)[-1]
    for key in ("queueArn", "dlqArn"):
        assert outputs[key].rsplit(":", 1)[-1] == declared[key].rsplit(":", 1)[-1]
    assert outputs["alarmNames"] == declared["alarmNames"]
    # What the outputs name is really there, as declared.
    s3, sqs, cloudwatch = clients(endpoint, REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["queueUrl"], AttributeNames=["All"])["Attributes"]
    work_queue = next(
        r for r in production.of_type("aws:sqs/queue:Queue") if r.outputs["url"] == declared["queueUrl"]
    )
    assert int(attributes["VisibilityTimeout"]) == work_queue.inputs["visibilityTimeoutSeconds"]
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == outputs["dlqArn"]
    notification = s3.get_bucket_notification_configuration(Bucket=outputs["bucketName"])
    assert [c["QueueArn"] for c in notification["QueueConfigurations"]] == [outputs["queueArn"]]
    assert {a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]} >= set(
        outputs["alarmNames"]
    )
    # The workers' group and its hooks are deployed; what is not (the alarm topic) is left out, and said so.
    autoscaling = client(endpoint, "autoscaling", REGION)
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[outputs["workerGroupName"]])[
        "AutoScalingGroups"
    ]
    assert group["LaunchTemplate"]["LaunchTemplateId"] == outputs["workerLaunchTemplateId"]
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=outputs["workerGroupName"])
    assert {hook["LifecycleHookName"] for hook in hooks["LifecycleHooks"]} == {
        hook.inputs["name"] for hook in production.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")
    }
    assert "alarmTopicArn" not in outputs and "alarmTopicArn" in err
    # Uploads over the plain-HTTP endpoint are accepted, and the s3:TestEvent is gone.
    assert "plain-HTTP uploads" in err and "DenyInsecureTransport" in err
    s3.put_object(Bucket=outputs["bucketName"], Key="uploads/plain-http.txt", Body=b"accepted")
    assert (
        sqs.get_queue_attributes(
            QueueUrl=outputs["queueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "1"
    )
    message = sqs.receive_message(QueueUrl=outputs["queueUrl"], WaitTimeSeconds=1)["Messages"][0]
    assert "plain-http.txt" in message["Body"]
    sqs.delete_message(QueueUrl=outputs["queueUrl"], ReceiptHandle=message["ReceiptHandle"])


def test_a_redeploy_without_bucket_policies_removes_them_and_the_default_puts_them_back(endpoint, capsys):
    code, outputs, _ = deploy_json(capsys, "--endpoint", endpoint)
    assert code == 0
    s3, _, _ = clients(endpoint, REGION)
    assert s3.get_bucket_tagging(Bucket=outputs["bucketName"])["TagSet"]
    code, _, err = deploy_json(capsys, "--endpoint", endpoint, "--no-bucket-policies")
    assert code == 0 and "bucket policies removed" in err
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket=outputs["bucketName"])
    code, _, _ = deploy_json(capsys, "--endpoint", endpoint)
    assert code == 0
    tags = s3.get_bucket_tagging(Bucket=outputs["bucketName"])["TagSet"]
    assert tags == [{"Key": PLAIN_HTTP_TAG, "Value": "DenyInsecureTransport"}]


def test_worker_env_prints_the_deployed_environment_file(endpoint, production, capsys):
    assert main(["--endpoint", endpoint]) == 0
    capsys.readouterr()
    assert main(["--endpoint", endpoint, "--worker-env"]) == 0
    printed = contract.read_environment_file(capsys.readouterr().out)
    (template,) = production.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    declared = contract.environment_from_user_data(template.inputs["userData"])
    assert printed.keys() == declared.keys() | {"AWS_ENDPOINT_URL"}
    assert printed["AWS_ENDPOINT_URL"] == endpoint
    assert printed[contract.QUEUE_URL].startswith(endpoint + "/")
    assert printed[contract.METRIC_NAMESPACE] == declared[contract.METRIC_NAMESPACE]


def test_plain_http_policy_leaves_out_only_the_tls_only_statements():
    tls = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    other = {
        "Sid": "DenyDelete",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": "*",
    }
    document, left_out = plain_http_policy(json.dumps({"Version": "2012-10-17", "Statement": [tls, other]}))
    assert left_out == ["DenyInsecureTransport"] and json.loads(document)["Statement"] == [other]
    unchanged = json.dumps({"Statement": [other]})
    assert plain_http_policy(unchanged) == (unchanged, [])


def test_a_redeploy_changes_nothing(endpoint, capsys):
    first = deploy_json(capsys, "--endpoint", endpoint)
    _, sqs, _ = clients(endpoint, REGION)
    queues = sorted(sqs.list_queues()["QueueUrls"])
    second = deploy_json(capsys, "--endpoint", endpoint)
    assert first[0] == second[0] == 0
    assert first[1] == second[1]
    assert sorted(sqs.list_queues()["QueueUrls"]) == queues


def test_another_teams_program_and_a_changed_redeploy(tmp_path, capsys):
    program = small_program(tmp_path / "other", {"dev": 60, "wider": 120})
    with moto_server() as url:
        code, outputs, err = deploy_json(
            capsys, "--endpoint", url, "--program", str(program), "--stack", "dev"
        )
        assert code == 0, err
        assert outputs == {"jobsQueue": f"{url}/123456789012/other-team-jobs", "inbox": "other-team-inbox"}
        s3, sqs, _ = clients(url, "us-east-1")
        assert sqs.get_queue_attributes(QueueUrl=outputs["jobsQueue"], AttributeNames=["VisibilityTimeout"])[
            "Attributes"
        ] == {"VisibilityTimeout": "60"}
        code, again, err = deploy_json(
            capsys, "--endpoint", url, "--program", str(program), "--stack", "wider"
        )
        assert code == 0, err
        assert again == outputs  # converged in place: the same queue, its visibility changed
        assert sqs.get_queue_attributes(QueueUrl=outputs["jobsQueue"], AttributeNames=["VisibilityTimeout"])[
            "Attributes"
        ] == {"VisibilityTimeout": "120"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://10.1.2.3:5000", "is not a loopback address"),
        ("http://s3.ap-northeast-1.amazonaws.com", "is not a loopback address"),
        ("127.0.0.1:5000", "is not a valid URL"),
        ("http://127.0.0.1:70000", "is not a valid URL"),
        ("ftp://127.0.0.1:21", "is not a valid URL"),
        ("http://127.0.0.1:5000/some/path", "no path"),
        ("http://127.0.0.1:{closed_port}", "nothing answers at"),
    ],
)
def test_refused_endpoints_exit_2_with_one_message(endpoint, expected, capsys):
    assert main(["--endpoint", endpoint.format(closed_port=free_port())]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err and captured.err.startswith("error: ")
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1


def test_unknown_stack_and_failing_program_exit_2(endpoint, tmp_path, capsys):
    assert main(["--endpoint", endpoint, "--stack", "no-such-stack"]) == 2
    assert "unknown stack 'no-such-stack'" in capsys.readouterr().err
    program = small_program(tmp_path / "broken", {"dev": 60})
    (program / "__main__.py").write_text("raise ValueError('visibility must cover processing')\n")
    assert main(["--endpoint", endpoint, "--program", str(program), "--stack", "dev"]) == 2
    err = capsys.readouterr().err
    assert "the program failed" in err and "visibility must cover processing" in err


def test_the_command_line_prints_one_json_object(endpoint):
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.deploy", "--endpoint", endpoint, "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    assert {"bucketName", "indexBucketName", "queueUrl", "queueArn", "dlqUrl", "dlqArn"} <= set(outputs)


def test_the_workers_environment_is_the_declared_environment_file(production):
    """What the launch template's user data writes, with the endpoint's queue URLs and scaled times."""
    (template,) = production.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    declared = contract.environment_from_user_data(template.inputs["userData"])
    with moto_server() as url:
        s3, sqs, cloudwatch = clients(url, REGION)
        plane = deploy(production, s3, sqs, cloudwatch, REGION, scale=0.01)
    environment = plane.worker_environment
    assert environment.keys() == declared.keys()
    assert (
        environment[contract.QUEUE_URL]
        == f"{url}/123456789012/{declared[contract.QUEUE_URL].rsplit('/', 1)[-1]}"
    )
    assert environment[contract.INDEX_BUCKET] == declared[contract.INDEX_BUCKET]
    processing = float(declared[contract.PROCESSING_TIMEOUT_SECONDS])
    assert environment[contract.PROCESSING_TIMEOUT_SECONDS] == str(max(1, round(processing * 0.01)))
    unchanged = declared.keys() - {
        contract.QUEUE_URL,
        contract.DLQ_URL,
        contract.PROCESSING_TIMEOUT_SECONDS,
        contract.SHUTDOWN_GRACE_SECONDS,
        contract.AWS_DEFAULT_REGION,
    }
    assert {key: environment[key] for key in unchanged} == {key: declared[key] for key in unchanged}


def test_a_redeploy_deletes_the_alarms_and_hooks_the_stack_no_longer_declares(production):
    """Converging: what an earlier deploy of the stack created and the stack dropped is deleted."""
    import dataclasses

    with moto_server() as url:
        s3, sqs, cloudwatch = clients(url, REGION)
        ec2, autoscaling = client(url, "ec2", REGION), client(url, "autoscaling", REGION)
        deploy(production, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
        alarms = production.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        hooks = production.of_type("aws:autoscaling/lifecycleHook:LifecycleHook")
        drain_hook = next(hook for hook in hooks if hook.inputs["name"] == "drain-on-termination")
        dropped = {alarms[-1].urn, drain_hook.urn}
        smaller = dataclasses.replace(
            production,
            resources=[resource for resource in production.resources if resource.urn not in dropped],
        )
        deploy(smaller, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
        live_alarms = {alarm["AlarmName"] for alarm in cloudwatch.describe_alarms()["MetricAlarms"]}
        group = drain_hook.inputs["autoscalingGroupName"]
        live_hooks = {
            hook["LifecycleHookName"]
            for hook in autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
        }
    assert live_alarms == {alarm.inputs["name"] for alarm in alarms[:-1]}
    assert live_hooks == {"worker-ready"}


def test_a_redeploy_adds_a_launch_template_version_only_when_the_template_changed(production):
    """Converging, no duplicates: an unchanged redeploy leaves the template at its version; a changed
    user data is one new version, made the default the group launches."""
    import dataclasses

    with moto_server() as url:
        s3, sqs, cloudwatch = clients(url, REGION)
        ec2, autoscaling = client(url, "ec2", REGION), client(url, "autoscaling", REGION)
        for _ in range(3):
            deploy(production, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
        (template,) = ec2.describe_launch_templates()["LaunchTemplates"]
        assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (1, 1)
        declared = production.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0]
        changed = dataclasses.replace(
            declared, inputs={**declared.inputs, "userData": declared.inputs["userData"] + "\n"}
        )
        edited = dataclasses.replace(
            production,
            resources=[changed if resource is declared else resource for resource in production.resources],
        )
        deploy(edited, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
        deploy(edited, s3, sqs, cloudwatch, REGION, ec2=ec2, autoscaling=autoscaling)
        (template,) = ec2.describe_launch_templates()["LaunchTemplates"]
    assert (template["DefaultVersionNumber"], template["LatestVersionNumber"]) == (2, 2)
