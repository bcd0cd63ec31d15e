"""A Lambda consumer that fails whole batches: without ReportBatchItemFailures one bad record returns every
record of its batch to the queue.

Each return costs every record of the batch a receive, so files that were processed are processed again,
and files that share batches with a poison file reach maxReceiveCount with it and are dead-lettered
although nothing is wrong with them (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).
A batch of one record has nothing to share, so only mappings whose batch can hold more are noted. Advisory:
a handler that never raises and deletes its own records is correct without it.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .stack_index import LambdaConsumer, index_stack
from .values import as_number, elements, is_unknown, peek

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


def _check_lambda_reports_batch_item_failures(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    """Partial batch responses return only the failed records (services-sqs-errorhandling.html)."""
    for message, urn in batch_failure_findings(index_stack(args.resources).lambda_consumers):
        report_violation(message, urn)


lambda_reports_batch_item_failures = StackValidationPolicy(
    name="lambda-reports-batch-item-failures",
    description="An SQS event source mapping whose batches hold more than one record reports partial batch "
    "failures (ReportBatchItemFailures), so one bad record does not return, reprocess and eventually "
    "dead-letter the good records of its batch. Fix: function_response_types=['ReportBatchItemFailures'].",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_check_lambda_reports_batch_item_failures,
    remediation_steps="Set the mapping's function_response_types=['ReportBatchItemFailures'] and have the handler "
    "return {'batchItemFailures': [{'itemIdentifier': messageId}, ...]} for the records that failed; or use "
    "batch_size=1.",
    url=SQS_ERRORS_DOC,
)

BATCH_FAILURE_POLICIES = [lambda_reports_batch_item_failures]
