"""A Lambda consumer the event source mapping cannot invoke: its batches are throttled, not processed.

The mapping does not account for the function's reserved concurrency: it keeps receiving batches, and a
throttled batch goes back to the queue when its visibility ends, costing a receive each time, so after
maxReceiveCount receives SQS dead-letters files that were never processed. Reserved concurrency 0 throttles
every invocation; a reserved concurrency below the mappings' maximum concurrency (or with no maximum, below
what the mapping scales to) throttles the surplus
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
Advisory: reserved concurrency 0 is also AWS's documented emergency stop, so the rule says what happens and
how to stop without dead-lettering (disable the mapping); it does not block.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .stack_index import LambdaConsumer, index_stack
from .values import as_number, is_unknown, peek

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


def _check_lambda_consumer_not_throttled(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """Reserved concurrency >= the SQS mappings' total maximum concurrency (services-sqs-scaling.html)."""
    for message, urn in throttling_findings(index_stack(args.resources).lambda_consumers):
        report_violation(message, urn)


lambda_consumer_not_throttled = StackValidationPolicy(
    name="lambda-consumer-not-throttled",
    description="A function mapped to an SQS queue may run as often as its mappings invoke it: no reserved "
    "concurrency of 0 under an enabled mapping, and a reserved concurrency at least the mappings' total maximum "
    "concurrency; otherwise throttled batches spend receives and files are dead-lettered unprocessed. Fix: "
    "disable the mapping to stop, or cap its maximum concurrency at the reservation.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_check_lambda_consumer_not_throttled,
    remediation_steps="Set the event source mapping's scaling_config.maximum_concurrency to at most the function's "
    "reserved_concurrent_executions (in total over its SQS mappings); to pause processing, set the mapping's "
    "enabled=False instead of reserving 0.",
    url=SQS_SCALING_DOC,
)

THROTTLING_POLICIES = [lambda_consumer_not_throttled]
