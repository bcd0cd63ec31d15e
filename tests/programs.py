"""Minimal Pulumi programs for the tests, written to a temporary folder and rendered under mocks.

A baseline program declares a compliant pipeline; each option breaks exactly one thing, so a test
can show that the policy naming that thing fires (and that it does not fire on the baseline).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from preview.gate import GateResult, evaluate, load_policies
from preview.mocks import CloudMocks
from preview.render import RenderedStack, render_program

PROJECT_YAML = """name: {name}
runtime:
  name: python
"""


def write_program(directory: Path, body: str, name: str = "test-program", stack_config: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(PROJECT_YAML.format(name=name))
    (directory / "Pulumi.dev.yaml").write_text(stack_config or "config:\n  aws:region: us-east-1\n")
    header = "import base64\nimport json\n\nimport pulumi\nimport pulumi_aws as aws\n\n"
    (directory / "__main__.py").write_text(header + textwrap.dedent(body))
    return directory


def _policy_document_json(arguments: dict) -> str:
    """What aws.iam.get_policy_document computes, for mocks that do not compute it themselves."""

    def listed(value):
        return value if isinstance(value, list) and len(value) != 1 else (value[0] if value else value)

    statements = []
    for statement in arguments.get("statements") or []:
        rendered: dict = {"Effect": statement.get("effect", "Allow")}
        if statement.get("sid"):
            rendered["Sid"] = statement["sid"]
        for source, target in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if statement.get(source):
                rendered[target] = listed(sorted(statement[source]))
        for principal in statement.get("principals") or []:
            rendered.setdefault("Principal", {})[principal["type"]] = listed(principal["identifiers"])
        for condition in statement.get("conditions") or []:
            rendered.setdefault("Condition", {}).setdefault(condition["test"], {})[condition["variable"]] = (
                listed(condition["values"])
            )
        statements.append(rendered)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


_mock_call = CloudMocks.call


def _call_with_policy_documents(self: CloudMocks, args) -> dict:
    result = _mock_call(self, args)
    if args.token.endswith("getPolicyDocument") and not isinstance(result.get("json"), str):
        result = {**result, "json": _policy_document_json(dict(args.args)), "id": "policy-document"}
    return result


CloudMocks.call = _call_with_policy_documents  # a no-op once the mocks compute policy documents themselves


def render(directory: Path, body: str) -> RenderedStack:
    return render_program(write_program(directory, body), "dev")


def gate(directory: Path, body: str, config: dict | None = None) -> GateResult:
    return evaluate(render(directory, body).resources, load_policies(), config or {})


def fired(result: GateResult) -> set[str]:
    return {violation.policy for violation in result.violations}


@dataclass
class PipelineProgram:
    """A small pipeline program; the defaults pass every mandatory policy."""

    visibility: int | None = 900
    redrive: str | None = "inline"  # "inline", "resource" or None
    max_receive_count: int = 3
    queue_retention: int = 345600
    dlq_retention: int = 1209600
    encrypted: bool | None = True  # None: left to SQS's default (SSE-SQS since 2022)
    receive_wait: int = 20
    notifications: list[list[tuple[str, str]]] = field(
        default_factory=lambda: [[("s3:ObjectCreated:*", "uploads/")]]
    )
    queue_policy_conditions: bool = True
    public_access_block: bool | None = True  # False: declared with the settings off; None: not declared
    tls_policy: bool = True
    bucket_encryption: bool = True
    dlq_alarm: bool = False
    consumer: str | None = "worker"  # "worker" (EC2, 900 s jobs), "role" (processing not in the stack), None
    consumer_actions: tuple[str, ...] = (
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    )

    def source(self) -> str:
        lines = [
            'bucket = aws.s3.Bucket("uploads", bucket="test-uploads")',
            'dlq = aws.sqs.Queue("dlq", name="test-dlq", sqs_managed_sse_enabled=True, '
            f"message_retention_seconds={self.dlq_retention})",
        ]
        queue_args = [
            'name="test-queue"',
            f"message_retention_seconds={self.queue_retention}",
            f"receive_wait_time_seconds={self.receive_wait}",
        ]
        if self.visibility is not None:
            queue_args.append(f"visibility_timeout_seconds={self.visibility}")
        if self.encrypted is not None:
            queue_args.append(f"sqs_managed_sse_enabled={self.encrypted}")
        redrive = (
            "dlq.arn.apply(lambda arn: json.dumps("
            f'{{"deadLetterTargetArn": arn, "maxReceiveCount": {self.max_receive_count}}}))'
        )
        if self.redrive == "inline":
            queue_args.append(f"redrive_policy={redrive}")
        lines.append(f'queue = aws.sqs.Queue("queue", {", ".join(queue_args)})')
        if self.redrive == "resource":
            lines.append(
                f'aws.sqs.RedrivePolicy("queue-redrive", queue_url=queue.url, redrive_policy={redrive})'
            )
        condition = (
            '"Condition": {"ArnEquals": {"aws:SourceArn": b}, "StringEquals": {"aws:SourceAccount": "123456789012"}}, '
            if self.queue_policy_conditions
            else ""
        )
        lines.append(
            'policy = aws.sqs.QueuePolicy("queue-policy", queue_url=queue.url, '
            "policy=pulumi.Output.all(queue.arn, bucket.arn).apply(lambda v: (lambda q, b: json.dumps("
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": q, '
            f"{condition}}}]}}))(*v)))"
        )
        if self.public_access_block is not None:
            on = self.public_access_block
            lines.append(
                f'aws.s3.BucketPublicAccessBlock("pab", bucket=bucket.id, block_public_acls={on}, '
                f"block_public_policy={on}, ignore_public_acls={on}, restrict_public_buckets={on})"
            )
        if self.bucket_encryption:
            lines.append(
                'aws.s3.BucketServerSideEncryptionConfiguration("sse", bucket=bucket.id, rules=[{'
                '"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}])'
            )
        if self.tls_policy:
            lines.append(
                'aws.s3.BucketPolicy("tls", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps('
                '{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, arn + "/*"], '
                '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))'
            )
        for position, destinations in enumerate(self.notifications):
            queues = ", ".join(
                f'aws.s3.BucketNotificationQueueArgs(queue_arn=queue.arn, events=["{event}"], filter_prefix="{prefix}")'
                for event, prefix in destinations
            )
            lines.append(
                f'aws.s3.BucketNotification("notification-{position}", bucket=bucket.id, queues=[{queues}], '
                "opts=pulumi.ResourceOptions(depends_on=[policy]))"
            )
        if self.consumer is not None:
            lines += self._consumer_lines()
        if self.dlq_alarm:
            lines.append(
                'aws.cloudwatch.MetricAlarm("dlq-alarm", namespace="AWS/SQS", '
                'metric_name="ApproximateNumberOfMessagesVisible", dimensions={"QueueName": dlq.name}, '
                'statistic="Maximum", period=60, evaluation_periods=1, threshold=0, '
                'comparison_operator="GreaterThanThreshold")'
            )
        return "\n".join(lines) + "\n"

    def _consumer_lines(self) -> list[str]:
        lines = [
            'role = aws.iam.Role("consumer", assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))',
            'aws.iam.RolePolicy("consumer-sqs", role=role.id, policy=queue.arn.apply(lambda arn: json.dumps('
            f'{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": {list(self.consumer_actions)}, '
            '"Resource": arn}]})))',
        ]
        if self.consumer == "worker":
            lines += [
                'profile = aws.iam.InstanceProfile("consumer", role=role.name)',
                'user_data = queue.url.apply(lambda url: base64.b64encode(("#!/bin/bash\\ncat > /etc/worker.env <<EOF\\n"'
                ' f"QUEUE_URL={url}\\nPROCESSING_TIMEOUT_SECONDS=900\\nEOF\\n").encode()).decode())',
                'aws.ec2.LaunchTemplate("workers", image_id="ami-12345678", instance_type="t3.small", '
                'user_data=user_data, iam_instance_profile={"arn": profile.arn}, '
                'metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1})',
            ]
        return lines
