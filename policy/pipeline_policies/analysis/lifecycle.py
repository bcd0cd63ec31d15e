"""A message's life in numbers: how long it stays invisible, how long it is kept, how long its consumers
may hold it. One module, so every rule does the same arithmetic with the same AWS defaults.

Visibility: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
Lambda's visibility formula: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

from typing import Any

from .access import receivers_of
from .model import LambdaConsumer, Queue, StackIndex
from .types import (
    LAMBDA_DEFAULT_TIMEOUT_SECONDS,
    SQS_DEFAULT_RETENTION_SECONDS,
    SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
)
from .values import as_number, is_unknown, known, peek

LAMBDA_VISIBILITY_FACTOR = 6


def function_timeout(function: Any) -> float:
    timeout = as_number(peek(function.props, "timeout"))
    return LAMBDA_DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout


def visibility_seconds(queue: Queue) -> float:
    """The queue's visibility timeout (SQS's default when unset); raises while it is not known yet."""
    visibility = as_number(known(queue.prop("visibilityTimeoutSeconds"), "visibilityTimeoutSeconds"))
    return SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility is None else visibility


def retention_seconds(queue: Queue) -> float:
    value = as_number(queue.prop("messageRetentionSeconds"))
    return SQS_DEFAULT_RETENTION_SECONDS if value is None else value


def seconds_to_dead_letter(queue: Queue, max_receive_count: float) -> float | None:
    """The least time a message that always fails spends in its queue before SQS moves it to the DLQ: its
    delay, then maxReceiveCount receives each hidden for the visibility timeout (a consumer's backoff is
    capped at it). None while the visibility or delay is not known yet.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"""
    visibility, delay = queue.prop("visibilityTimeoutSeconds"), queue.prop("delaySeconds")
    if is_unknown(visibility) or is_unknown(delay):
        return None
    visibility_seconds_ = as_number(visibility)
    visibility_seconds_ = (
        SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if visibility_seconds_ is None else visibility_seconds_
    )
    return (as_number(delay) or 0) + max_receive_count * visibility_seconds_


def batching_window_seconds(consumer: LambdaConsumer) -> float:
    window = peek(consumer.mapping.props, "maximumBatchingWindowInSeconds")
    return 0.0 if is_unknown(window) else (as_number(window) or 0.0)


def lambda_visibility_seconds(consumer: LambdaConsumer, with_window: bool = False) -> float:
    """AWS's formula for an SQS event source: at least six times the function timeout
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); AWS's guidance restated adds
    the mapping's batching window, `with_window`."""
    window = batching_window_seconds(consumer) if with_window else 0.0
    return LAMBDA_VISIBILITY_FACTOR * consumer.timeout_seconds + window


def consumer_queue_visibility(index: StackIndex, consumer: LambdaConsumer) -> float | None:
    """The visibility timeout of the queue a Lambda consumer reads (None when not known yet)."""
    value = consumer.queue.prop("visibilityTimeoutSeconds")
    if is_unknown(value):
        return None
    number = as_number(value)
    return SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS if number is None else number


def processing_requirements(
    index: StackIndex, queue: Queue, max_processing: float
) -> list[tuple[float, str]]:
    """(seconds the visibility must cover, who needs it) for each consumer of the queue."""
    needs: list[tuple[float, str]] = []
    seen_roles: set[int] = set()
    for worker in queue.workers:
        timeout = as_number(worker.environment.get("PROCESSING_TIMEOUT_SECONDS"))
        if timeout is None:
            needs.append(
                (
                    max_processing,
                    f"workers of {worker.resource.name} (no PROCESSING_TIMEOUT_SECONDS: "
                    f"maxProcessingSeconds {max_processing:g} s)",
                )
            )
        else:
            needs.append(
                (timeout, f"workers of {worker.resource.name} (PROCESSING_TIMEOUT_SECONDS={timeout:g})")
            )
        if worker.role is not None:
            seen_roles.add(id(worker.role))
    for consumer in queue.lambda_consumers:
        needs.append(
            (
                lambda_visibility_seconds(consumer),
                f"Lambda {consumer.function.name} (timeout {consumer.timeout_seconds:g} s; AWS asks for "
                f"{LAMBDA_VISIBILITY_FACTOR}x the function timeout)",
            )
        )
        if consumer.role is not None:
            seen_roles.add(id(consumer.role))
    for access in receivers_of(index, queue):
        if id(access.role) in seen_roles:
            continue
        seen_roles.add(id(access.role))
        functions = access.role.lambda_functions
        if functions and not access.role.workers:
            # A Lambda execution role receives only inside an invocation, which ends at the function's
            # timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html).
            timeout, name = max((function_timeout(function), function.name) for function in functions)
            needs.append(
                (
                    timeout,
                    f"Lambda {name} ({access.role.label} may receive from it; an invocation ends at the "
                    f"function's timeout, {timeout:g} s)",
                )
            )
            continue
        needs.append(
            (
                max_processing,
                f"{access.role.label}, allowed to receive (processing not in the stack: "
                f"maxProcessingSeconds {max_processing:g} s)",
            )
        )
    return needs
