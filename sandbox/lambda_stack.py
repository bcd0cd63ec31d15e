"""The lambda-mode settings the drill's emulated run follows, read from the rendered lambda stack.

The lambda stack (`Pulumi.lambda.yaml`: compute lambda, a visibility of 6x the function timeout,
maxReceiveCount 5; docs/architecture.md) declares an `aws:lambda/function:Function`
and an `aws:lambda/eventSourceMapping:EventSourceMapping` on the work queue; their inputs (engine
camelCase names, numbers as floats under the mocks) give the batch size, batching window, maximum
concurrency and function timeout, and the queue the mapping reads gives the visibility timeout.
Defaults where an input is absent are the documented ones
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html; Lambda's default timeout 3 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preview.render import RenderedStack, render_program
from sandbox.lambda_emulator import LambdaSettings

PROJECT = "cis-file-pipeline"
FUNCTION = "aws:lambda/function:Function"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
QUEUE = "aws:sqs/queue:Queue"
LAMBDA_STACK = "lambda"
"""The drill's lambda stack: Pulumi.lambda.yaml, as `pulumi up --stack lambda` would deploy it."""
DEFAULT_BATCH_SIZE = 10
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 3
DEFAULT_MAXIMUM_CONCURRENCY = 1000
"""Without ScalingConfig the mapping is bounded only by the function's concurrency (1,000 by default)."""


class LambdaStackError(ValueError):
    """The rendered stack cannot run in lambda mode; the message says what is missing."""


def render_lambda_stack(repo_root: Path, stack: str = LAMBDA_STACK) -> RenderedStack:
    return render_program(repo_root, stack)


def lambda_settings(stack: RenderedStack) -> LambdaSettings:
    """The event source mapping's and its function's settings, and its queue's visibility timeout."""
    mappings = stack.of_type(EVENT_SOURCE_MAPPING)
    if not mappings:
        raise LambdaStackError(
            f"the stack {stack.stack!r} as rendered declares no {EVENT_SOURCE_MAPPING}: the lambda run "
            f"needs a stack in the program's lambda mode ({PROJECT}:compute: lambda, as Pulumi.lambda.yaml sets "
            "it); run the drill with "
            "--compute ec2, or give the lambda run's settings with --lambda-settings"
        )
    if len(mappings) > 1:
        raise LambdaStackError(
            f"the rendered stack declares {len(mappings)} event source mappings; expected one"
        )
    mapping = mappings[0].inputs
    if "ReportBatchItemFailures" not in (mapping.get("functionResponseTypes") or []):
        raise LambdaStackError(
            f"the event source mapping {mappings[0].name!r} lacks functionResponseTypes "
            "['ReportBatchItemFailures']: without it a failed record fails its whole batch"
        )
    function = _function_of(stack, mapping)
    queue = _queue_of(stack, mapping)
    scaling = mapping.get("scalingConfig") or {}
    visibility = queue.get("visibilityTimeoutSeconds")
    if visibility is None:
        raise LambdaStackError(
            "the queue the event source mapping reads declares no visibilityTimeoutSeconds"
        )
    return LambdaSettings(
        batch_size=int(mapping.get("batchSize") or DEFAULT_BATCH_SIZE),
        batching_window_seconds=float(mapping.get("maximumBatchingWindowInSeconds") or 0),
        maximum_concurrency=int(scaling.get("maximumConcurrency") or DEFAULT_MAXIMUM_CONCURRENCY),
        function_timeout_seconds=float(function.get("timeout") or DEFAULT_FUNCTION_TIMEOUT_SECONDS),
        visibility_timeout_seconds=int(visibility),
    )


def function_environment(stack: RenderedStack) -> dict[str, str]:
    """The environment variables the function declares ({} without a function)."""
    functions = stack.of_type(FUNCTION)
    if not functions:
        return {}
    variables = (functions[0].inputs.get("environment") or {}).get("variables") or {}
    return {str(key): str(value) for key, value in variables.items()}


def _function_of(stack: RenderedStack, mapping: dict[str, Any]) -> dict[str, Any]:
    functions = stack.of_type(FUNCTION)
    name = mapping.get("functionName")
    for function in functions:
        if name in (function.outputs.get("arn"), function.outputs.get("name"), function.inputs.get("name")):
            return function.inputs
    if len(functions) == 1:
        return functions[0].inputs
    raise LambdaStackError(f"no {FUNCTION} matches the event source mapping's functionName {name!r}")


def _queue_of(stack: RenderedStack, mapping: dict[str, Any]) -> dict[str, Any]:
    arn = mapping.get("eventSourceArn")
    for queue in stack.of_type(QUEUE):
        if arn and arn == queue.outputs.get("arn"):
            return queue.inputs
    raise LambdaStackError(f"the event source mapping reads {arn!r}, which is no queue of this stack")
