"""Lambda mode's consumer: the worker package as a function, mapped to the work queue.

The event source mapping reports partial batch failures (ReportBatchItemFailures), so only the records
the handler lists come back; the rest are deleted. Failed records reach the DLQ through the queue's
own redrive policy (or the handler's explicit dead letter), never a Lambda on-failure destination,
so both modes share one DLQ path (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
The role's documents live in components/lambda_iam.py, the package in components/function_zip.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.build_files import write_build_file
from components.file_event_pipeline import FileEventPipeline
from components.function_zip import build_function_zip, sha256_hex
from components.lambda_iam import (
    LAMBDA_ASSUME_ROLE_POLICY,
    function_policy_document,
    log_group_arn,
    log_group_name,
)
from components.settings import ComputeSettings, PipelineSettings
from worker import contract

RUNTIME = "python3.12"
HANDLER = "worker.lambda_handler.handler"
LOG_RETENTION_DAYS = 30
"""How long the function's log (its outcome lines and EMF metrics) is kept; CloudWatch keeps the metrics."""


@dataclass
class LambdaConsumerArgs:
    settings: PipelineSettings
    """The pipeline's validated settings: prefixes, metric namespace, maxReceiveCount."""
    compute: ComputeSettings
    """The validated compute settings: function name, timeout, memory, batch, concurrency."""
    pipeline: FileEventPipeline
    """The queues and buckets the function consumes and writes."""
    source_dir: Path
    """The worker package directory (worker/)."""
    build_dir: Path
    """Where the zip is written before upload (git-ignored)."""
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]


def function_environment(settings: PipelineSettings, index_bucket: str) -> dict[str, str]:
    """The handler's environment, from the same settings as the queue (names from worker/contract.py).

    AWS_REGION is set by Lambda itself (a reserved variable); no QUEUE_URL: each record names its queue.
    """
    return {
        contract.INDEX_BUCKET: index_bucket,
        contract.INDEX_PREFIX: settings.index_prefix,
        contract.METRIC_NAMESPACE: settings.metric_namespace,
        contract.MAX_RECEIVE_COUNT: str(settings.max_receive_count),
        contract.PROCESSING_TIMEOUT_SECONDS: str(settings.max_processing_seconds),
    }


class LambdaConsumer(pulumi.ComponentResource):
    """Role and policy, log group, function and the event source mapping on the work queue."""

    sha256: str
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function
    mapping: aws.lambda_.EventSourceMapping

    def __init__(
        self, name: str, args: LambdaConsumerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cis:compute:LambdaConsumer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings, compute, pipeline = args.settings, args.compute, args.pipeline
        archive = build_function_zip(args.source_dir)
        self.sha256 = sha256_hex(archive)
        archive_path = args.build_dir / f"worker-function-{self.sha256}.zip"
        write_build_file(archive_path, archive)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name(compute.function_name),
            retention_in_days=LOG_RETENTION_DAYS,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(LAMBDA_ASSUME_ROLE_POLICY),
            description="CIS file-processor function: consume the work queue, index uploads",
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                queue_arn=pipeline.queue.arn,
                dlq_arn=pipeline.dead_letter_queue.arn,
                upload_bucket=pipeline.upload_bucket.bucket,
                index_bucket=pipeline.index_bucket.bucket,
                region=args.region,
                account_id=args.account_id,
            ).apply(
                lambda values: json.dumps(
                    function_policy_document(
                        queue_arn=values["queue_arn"],
                        dlq_arn=values["dlq_arn"],
                        upload_bucket=values["upload_bucket"],
                        upload_prefix=settings.upload_prefix,
                        index_bucket=values["index_bucket"],
                        index_prefix=settings.index_prefix,
                        log_group_arn=log_group_arn(
                            values["region"], values["account_id"], compute.function_name
                        ),
                    )
                )
            ),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=compute.function_name,
            description="CIS file processor: the worker's processing core, one record at a time",
            runtime=RUNTIME,
            handler=HANDLER,
            # The archive's own content hash is the diff that updates the code; no source_code_hash beside
            # it (pulumi-aws #3478: the provider computes it). The zip is reproducible, so an unchanged
            # worker is no update.
            code=pulumi.FileArchive(str(archive_path)),
            role=self.role.arn,
            timeout=compute.lambda_timeout_seconds,
            memory_size=compute.lambda_memory_mb,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables=pipeline.index_bucket.bucket.apply(
                    lambda index_bucket: function_environment(settings, index_bucket)
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]),
        )
        # No destination_config: SQS's redrive policy is the DLQ path in both modes.
        self.mapping = aws.lambda_.EventSourceMapping(
            f"{name}-queue-mapping",
            event_source_arn=pipeline.queue.arn,
            function_name=self.function.arn,
            batch_size=compute.lambda_batch_size,
            maximum_batching_window_in_seconds=compute.lambda_batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=compute.lambda_maximum_concurrency
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.register_outputs(
            {
                "functionName": self.function.name,
                "functionArn": self.function.arn,
                "eventSourceMappingUuid": self.mapping.uuid,
                "sha256": self.sha256,
            }
        )
