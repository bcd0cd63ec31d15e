"""The visibility timeout covers the consumers' processing, or files still being processed are delivered again."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.lifecycle import processing_requirements, visibility_seconds
from ..analysis.model import StackIndex
from ..analysis.types import SQS_MAX_VISIBILITY_SECONDS
from ..analysis.values import UNKNOWN, as_number, known
from .common import Finding, Settings, schema, stack_validator

LAMBDA_SQS_DOC = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"
VISIBILITY_SCHEMA = schema(
    maxProcessingSeconds={
        "type": "integer",
        "minimum": 0,
        "maximum": SQS_MAX_VISIBILITY_SECONDS,
        "default": 900,
        "description": "The longest a consumer the pack cannot see (a role allowed to receive, with no worker or "
        "Lambda in the stack) may process one message; such queues' visibility covers it.",
    }
)


def _visibility_covers_processing(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """A message's visibility timeout must outlast its processing or it is delivered again
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html);
    for a Lambda consumer AWS asks for six times the function timeout (with-sqs.html)."""
    max_processing = float(as_number(settings("maxProcessingSeconds")) or 0)
    for queue in index.work_queues:
        needs = processing_requirements(index, queue, max_processing)
        if not needs:
            continue  # no consumer in the stack: an advisory note (cannot-decide-from-stack)
        visibility = visibility_seconds(queue)
        required, who = max(needs, key=lambda need: need[0])
        if visibility < required:
            yield (
                f"queue {queue.label}: visibilityTimeoutSeconds is {visibility:g}, but {who} may take "
                f"{required:g} s per message. SQS makes a message visible again when the timeout ends, so files "
                f"still being processed are delivered and processed again. Set visibilityTimeoutSeconds >= "
                f"{required:g}.",
                queue.resource.urn,
            )
    if any(worker.user_data_unknown for worker in index.workers):
        known(UNKNOWN, "userData")


visibility_covers_processing = StackValidationPolicy(
    name="visibility-covers-processing",
    description="Every work queue's visibility timeout covers its consumers' processing: the workers' "
    "PROCESSING_TIMEOUT_SECONDS, six times a Lambda consumer's timeout, maxProcessingSeconds for a consumer "
    "whose processing the stack does not show. Fix: raise visibilityTimeoutSeconds.",
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=VISIBILITY_SCHEMA,
    validate=stack_validator(_visibility_covers_processing, VISIBILITY_SCHEMA),
    remediation_steps="Set the queue's visibilityTimeoutSeconds to at least the longest processing time of its "
    "consumers (6x the function timeout for Lambda); take both numbers from one setting.",
    url=LAMBDA_SQS_DOC,
)

VISIBILITY_POLICIES = [visibility_covers_processing]
