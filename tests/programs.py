"""Minimal Pulumi programs for the tests, written to a temporary folder and rendered under mocks.

A baseline program declares a compliant pipeline; each option breaks exactly one thing, so a test
can show that the policy naming that thing fires (and that it does not fire on the baseline).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from preview.gate import GateResult, evaluate, load_policies
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
    encrypted: bool = True
    receive_wait: int = 20
    notifications: list[list[tuple[str, str]]] = field(
        default_factory=lambda: [[("s3:ObjectCreated:*", "uploads/")]]
    )
    queue_policy_conditions: bool = True
    public_access_block: bool = True
    tls_policy: bool = True
    dlq_alarm: bool = False

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
        if self.encrypted:
            queue_args.append("sqs_managed_sse_enabled=True")
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
        if self.public_access_block:
            lines.append(
                'aws.s3.BucketPublicAccessBlock("pab", bucket=bucket.id, block_public_acls=True, '
                "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)"
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
        if self.dlq_alarm:
            lines.append(
                'aws.cloudwatch.MetricAlarm("dlq-alarm", namespace="AWS/SQS", '
                'metric_name="ApproximateNumberOfMessagesVisible", dimensions={"QueueName": dlq.name}, '
                'statistic="Maximum", period=60, evaluation_periods=1, threshold=0, '
                'comparison_operator="GreaterThanThreshold")'
            )
        return "\n".join(lines) + "\n"
