"""The lambda run's settings come from the rendered stack's event source mapping, function and queue
(the contract's resource types and engine input names); a stack without a mapping is a clear error."""

from __future__ import annotations

import pytest

from preview.mocks import RecordedResource
from preview.render import RenderedStack
from sandbox.lambda_stack import (
    EVENT_SOURCE_MAPPING,
    FUNCTION,
    QUEUE,
    LambdaStackError,
    function_environment,
    lambda_settings,
)

QUEUE_ARN = "arn:aws:sqs:ap-northeast-1:123456789012:file-processing-queue-production"


def resource(type_: str, name: str, inputs: dict, outputs: dict | None = None) -> RecordedResource:
    return RecordedResource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:production::cis-file-pipeline::{type_}::{name}",
        parent=None,
        custom=True,
        protect=False,
        inputs=inputs,
        outputs=outputs or {},
    )


def lambda_stack(**mapping_overrides) -> RenderedStack:
    mapping = {
        "eventSourceArn": QUEUE_ARN,
        "functionName": "arn:aws:lambda:ap-northeast-1:123456789012:function:file-processor",
        "batchSize": 1.0,  # numbers arrive as floats under the mocks
        "maximumBatchingWindowInSeconds": 0.0,
        "functionResponseTypes": ["ReportBatchItemFailures"],
        "scalingConfig": {"maximumConcurrency": 10.0},
    } | mapping_overrides
    return RenderedStack(
        "cis-file-pipeline",
        "production",
        [
            resource(QUEUE, "work-queue", {"visibilityTimeoutSeconds": 5400.0}, {"arn": QUEUE_ARN}),
            resource(QUEUE, "dlq", {"visibilityTimeoutSeconds": 30.0}, {"arn": QUEUE_ARN + "-dlq"}),
            resource(
                FUNCTION,
                "file-processor",
                {
                    "timeout": 900.0,
                    "environment": {"variables": {"INDEX_BUCKET": "cis-filesearch-index-production"}},
                },
                {"arn": mapping["functionName"]},
            ),
            resource(EVENT_SOURCE_MAPPING, "work-queue-mapping", mapping),
        ],
        {},
    )


def test_settings_are_read_from_the_mapping_the_function_and_the_queue():
    settings = lambda_settings(lambda_stack())
    assert settings.batch_size == 1 and settings.batching_window_seconds == 0
    assert settings.maximum_concurrency == 10
    assert settings.function_timeout_seconds == 900
    assert settings.visibility_timeout_seconds == 5400
    assert function_environment(lambda_stack()) == {"INDEX_BUCKET": "cis-filesearch-index-production"}


def test_a_stack_without_an_event_source_mapping_is_a_clear_error(production):
    with pytest.raises(LambdaStackError, match="declares no aws:lambda/eventSourceMapping.*--compute ec2"):
        lambda_settings(production)


def test_a_mapping_without_partial_batch_responses_is_refused():
    with pytest.raises(LambdaStackError, match="ReportBatchItemFailures"):
        lambda_settings(lambda_stack(functionResponseTypes=[]))


def test_a_mapping_on_an_unknown_queue_is_refused():
    with pytest.raises(LambdaStackError, match="no queue of this stack"):
        lambda_settings(lambda_stack(eventSourceArn="arn:aws:sqs:ap-northeast-1:1:elsewhere"))


def test_the_drill_runs_lambda_on_the_lambda_stack_with_its_own_queues():
    """Not production's queue with a longer visibility: the lambda stack as `pulumi up --stack lambda`
    would deploy it (its maxReceiveCount 5, its DLQ, the function's environment)."""
    from sandbox import drill
    from sandbox.data_plane import declared_function_environment
    from sandbox.local_aws import rendered_stack
    from worker import contract

    stack, settings = drill._lambda_run(rendered_stack("production"), None)
    assert stack.stack == "lambda"
    assert settings.visibility_timeout_seconds >= 6 * settings.function_timeout_seconds
    environment = declared_function_environment(stack)
    assert environment[contract.QUEUE_URL].endswith("/cis-file-pipeline-queue-lambda")
    assert environment[contract.DLQ_URL].endswith("/cis-file-pipeline-dlq-lambda")
    assert environment[contract.MAX_RECEIVE_COUNT] == "5"
    assert environment[contract.INDEX_BUCKET] == "cis-file-pipeline-index-lambda"


def test_the_deployed_lambda_stack_names_its_own_queues_and_index(aws):
    """The data plane deployed from the lambda stack (no launch template) takes the consumer's places
    from the function's environment and its mapping, so the drill's lambda run uses them."""
    from sandbox.data_plane import deploy
    from sandbox.local_aws import REGION, pipeline_of, rendered_stack

    s3, sqs, cloudwatch = aws
    stack = rendered_stack("lambda")
    pipeline = pipeline_of(stack, deploy(stack, s3, sqs, cloudwatch, REGION, scale=0.01))
    assert pipeline.queue_url.endswith("/cis-file-pipeline-queue-lambda")
    assert pipeline.dlq_url.endswith("/cis-file-pipeline-dlq-lambda")
    assert pipeline.index_bucket == "cis-file-pipeline-index-lambda"
