"""Rules on Lambda consumers of SQS queues: the mapping can invoke the function, and a batch does not fail whole.

Throttling: A Lambda consumer the event source mapping cannot invoke: its batches are throttled, not processed.

The mapping does not account for the function's reserved concurrency: it keeps receiving batches, and a
throttled batch goes back to the queue when its visibility ends, costing a receive each time, so after
maxReceiveCount receives SQS dead-letters files that were never processed. Reserved concurrency 0 throttles
every invocation; a reserved concurrency below the mappings' maximum concurrency (or with no maximum, below
what the mapping scales to) throttles the surplus
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
Advisory: reserved concurrency 0 is also AWS's documented emergency stop, so the rule says what happens and
how to stop without dead-lettering (disable the mapping); it does not block.

Batch failures: A Lambda consumer that fails whole batches: without ReportBatchItemFailures one bad record returns every
record of its batch to the queue.

Each return costs every record of the batch a receive, so files that were processed are processed again,
and files that share batches with a poison file reach maxReceiveCount with it and are dead-lettered
although nothing is wrong with them (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
A batch of one record has nothing to share, so only mappings whose batch can hold more are noted. Advisory:
a handler that never raises and deletes its own records is correct without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.lifecycle import batching_window_seconds, consumer_queue_visibility, lambda_visibility_seconds
from ..analysis.model import LambdaConsumer, StackIndex
from ..analysis.values import as_number, elements, is_unknown, peek
from .common import Finding, Settings, stack_validator

SQS_SCALING_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"


def _reserved(function: Any) -> float | None:
    """The function's reserved concurrency, or None when unreserved (unset or -1) or not known yet."""
    value = peek(function.props, "reservedConcurrentExecutions")
    number = None if is_unknown(value) else as_number(value)
    return number if number is not None and number >= 0 else None


def _maximum_concurrency(consumer: LambdaConsumer) -> float | None:
    value = peek(peek(consumer.mapping.props, "scalingConfig") or {}, "maximumConcurrency")
    return None if is_unknown(value) else as_number(value)


def throttling_findings(consumers: list[LambdaConsumer]) -> list[tuple[str, str]]:
    """(message, urn) for each function whose enabled SQS mappings can invoke it more than it may run."""
    by_function: dict[int, list[LambdaConsumer]] = {}
    for consumer in consumers:
        if peek(consumer.mapping.props, "enabled") is not False:
            by_function.setdefault(id(consumer.function), []).append(consumer)
    findings = []
    for mapped in by_function.values():
        function = mapped[0].function
        reserved = _reserved(function)
        if reserved is None:
            continue
        mappings = ", ".join(consumer.mapping.name for consumer in mapped)
        outcome = (
            "the mapping keeps receiving batches, each throttled one returns to the queue when its visibility "
            "ends and costs a receive, so after maxReceiveCount receives SQS dead-letters files that were never "
            "processed"
        )
        if reserved == 0:
            findings.append(
                (
                    f"Lambda {function.name} has reserved concurrency 0, so every invocation is throttled, and the "
                    f"SQS event source mapping {mappings} is enabled: {outcome}. To stop processing, set the "
                    "mapping's enabled=False (messages wait in the queue); to process, remove the reservation or "
                    "raise it to at least the mapping's maximum concurrency.",
                    function.urn,
                )
            )
            continue
        maxima = [_maximum_concurrency(consumer) for consumer in mapped]
        if any(maximum is None for maximum in maxima):
            findings.append(
                (
                    f"Lambda {function.name} has reserved concurrency {reserved:g}, and its SQS event source "
                    f"mapping {mappings} sets no maximum concurrency, so the mapping scales past it (up to 1,000 "
                    f"concurrent batches): {outcome}. Set scaling_config.maximum_concurrency on the mapping to at "
                    f"most {reserved:g}.",
                    function.urn,
                )
            )
        elif sum(maxima) > reserved:
            findings.append(
                (
                    f"Lambda {function.name} has reserved concurrency {reserved:g}, below the maximum concurrency "
                    f"of its SQS event source mappings {mappings} ({sum(maxima):g} in total): {outcome}. Lower "
                    f"their maximum concurrency to {reserved:g} in total, or raise the reservation.",
                    function.urn,
                )
            )
    return findings


def _lambda_consumer_not_throttled(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Reserved concurrency >= the SQS mappings' total maximum concurrency (services-sqs-scaling.html)."""
    yield from throttling_findings(index.lambda_consumers)


lambda_consumer_not_throttled = StackValidationPolicy(
    name="lambda-consumer-not-throttled",
    description="A function mapped to an SQS queue may run as often as its mappings invoke it: no reserved "
    "concurrency of 0 under an enabled mapping, and a reserved concurrency at least the mappings' total maximum "
    "concurrency; otherwise throttled batches spend receives and files are dead-lettered unprocessed. Fix: "
    "disable the mapping to stop, or cap its maximum concurrency at the reservation.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_lambda_consumer_not_throttled),
    remediation_steps="Set the event source mapping's scaling_config.maximum_concurrency to at most the function's "
    "reserved_concurrent_executions (in total over its SQS mappings); to pause processing, set the mapping's "
    "enabled=False instead of reserving 0.",
    url=SQS_SCALING_DOC,
)

SQS_ERRORS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
SQS_DEFAULT_BATCH_SIZE = 10
"""CreateEventSourceMapping's BatchSize default for Amazon SQS
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html)."""
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def batch_failure_findings(consumers: list[LambdaConsumer]) -> list[tuple[str, str]]:
    """(message, urn) for each SQS mapping whose batches can hold several records and fail as a whole."""
    findings = []
    for consumer in consumers:
        props = consumer.mapping.props
        types = peek(props, "functionResponseTypes")
        if is_unknown(types) or REPORT_BATCH_ITEM_FAILURES in [str(t) for t in elements(types)]:
            continue
        batch = peek(props, "batchSize")
        if is_unknown(batch):
            continue
        size = as_number(batch)
        size = SQS_DEFAULT_BATCH_SIZE if size is None else size
        if size <= 1:
            continue
        findings.append(
            (
                f"event source mapping {consumer.mapping.name} hands Lambda {consumer.function.name} batches of up "
                f"to {size:g} records without function_response_types=['ReportBatchItemFailures']: one failing "
                "record returns the whole batch to the queue, so processed files are processed again and every "
                "file batched with a poison file spends a receive with it, until maxReceiveCount dead-letters good "
                "files too. Set function_response_types=['ReportBatchItemFailures'] and return the failed "
                "messageIds (batchItemFailures), or batch_size=1.",
                consumer.mapping.urn,
            )
        )
    return findings


def _lambda_reports_batch_item_failures(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Partial batch responses return only the failed records (services-sqs-errorhandling.html)."""
    yield from batch_failure_findings(index.lambda_consumers)


lambda_reports_batch_item_failures = StackValidationPolicy(
    name="lambda-reports-batch-item-failures",
    description="An SQS event source mapping whose batches hold more than one record reports partial batch "
    "failures (ReportBatchItemFailures), so one bad record does not return, reprocess and eventually "
    "dead-letter the good records of its batch. Fix: function_response_types=['ReportBatchItemFailures'].",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_lambda_reports_batch_item_failures),
    remediation_steps="Set the mapping's function_response_types=['ReportBatchItemFailures'] and have the handler "
    "return {'batchItemFailures': [{'itemIdentifier': messageId}, ...]} for the records that failed; or use "
    "batch_size=1.",
    url=SQS_ERRORS_DOC,
)


def _lambda_visibility_covers_batching_window(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """With a batching window, records wait in the mapping before the invocation starts, still invisible: the
    visibility should cover six function timeouts plus the window (AWS's guidance for SQS event sources,
    services-sqs-configure.html). Advisory: AWS's page states the six timeouts; the window term is its
    guidance restated."""
    for consumer in index.lambda_consumers:
        window = batching_window_seconds(consumer)
        visibility = consumer_queue_visibility(index, consumer)
        if not window or visibility is None:
            continue
        required = lambda_visibility_seconds(consumer, with_window=True)
        if visibility < required:
            yield (
                f"event source mapping {consumer.mapping.name} gathers records for up to {window:g} s "
                f"(maximumBatchingWindowInSeconds) before invoking Lambda {consumer.function.name} (timeout "
                f"{consumer.timeout_seconds:g} s), and those records are already invisible: queue visibility "
                f"{visibility:g} s is below 6 x timeout + window = {required:g} s, so a throttled or retried batch "
                f"can reappear while still being processed. Set visibilityTimeoutSeconds >= {required:g}.",
                consumer.mapping.urn,
            )


lambda_visibility_covers_batching_window = StackValidationPolicy(
    name="lambda-visibility-covers-batching-window",
    description="A queue consumed through a mapping with a batching window has a visibility timeout of at least "
    "six function timeouts plus the window. Fix: raise visibilityTimeoutSeconds.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_lambda_visibility_covers_batching_window),
    remediation_steps="Set the queue's visibilityTimeoutSeconds to 6 x the function timeout + "
    "maximumBatchingWindowInSeconds.",
    url="https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
)

LAMBDA_CONSUMER_POLICIES = [
    lambda_consumer_not_throttled,
    lambda_reports_batch_item_failures,
    lambda_visibility_covers_batching_window,
]
