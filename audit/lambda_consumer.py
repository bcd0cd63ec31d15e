"""Lambda mode's consumer judged live: the function and the event source mapping from the work queue.

Without them nothing processes the queue, yet every queue, bucket and alarm can look healthy; so they
are read the way the Auto Scaling Group is in ec2 mode, compared with the declared ones, and their live
values are what the pack's consumer rules judge (audit/consumers.py), so the visibility >= 6 x timeout
rule sees the timeout that runs (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
They are read in audit/live_function.py.
"""

from __future__ import annotations

from typing import Any

from audit.declared import DeclaredStack
from audit.drift import ADVISORY, MANDATORY, Finding
from audit.live_function import ACTIVE_STATES, LiveFunction, function_name_of
from worker import contract

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def maximum_concurrency(mapping: dict[str, Any]) -> Any:
    return (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")


MAPPING_SETTINGS = (
    # (the declared input, the live field, how to read it)
    ("batchSize", "BatchSize", lambda mapping: mapping.get("BatchSize")),
    (
        "maximumBatchingWindowInSeconds",
        "MaximumBatchingWindowInSeconds",
        lambda mapping: mapping.get("MaximumBatchingWindowInSeconds") or 0,
    ),
    ("scalingConfig.maximumConcurrency", "ScalingConfig.MaximumConcurrency", maximum_concurrency),
)


def declared_mapping_setting(inputs: dict[str, Any], key: str) -> Any:
    if key == "scalingConfig.maximumConcurrency":
        return (inputs.get("scalingConfig") or {}).get("maximumConcurrency")
    if key == "maximumBatchingWindowInSeconds":
        return inputs.get(key) or 0
    return inputs.get(key)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def function_findings(declared: DeclaredStack, live: LiveFunction | None, region: str) -> list[Finding]:
    """Each difference between the declared function and mapping and the live ones (lambda mode only)."""
    if declared.function is None or live is None:
        return []
    function_inputs, mapping_inputs = declared.function, declared.event_source_mapping
    queue = declared.work_queue
    resource = f"function {live.name}"
    configuration = live.configuration
    if configuration is None:
        return [
            Finding(
                MANDATORY,
                resource,
                "exists",
                True,
                False,
                f"not found in {region}: no consumer processes the queue",
            )
        ]
    findings = []
    for key, field_name, consequence in (
        ("handler", "Handler", ": every invocation fails before processing a file"),
        ("runtime", "Runtime", ""),
    ):
        want, have = function_inputs.get(key), configuration.get(field_name)
        if want is not None and want != have:
            level = MANDATORY if consequence else ADVISORY
            findings.append(
                Finding(
                    level,
                    resource,
                    key,
                    want,
                    have,
                    f"{key} is {have}, the stack declares {want}{consequence}",
                )
            )
    want_timeout, have_timeout = (
        _number(function_inputs.get("timeout")),
        _number(configuration.get("Timeout")),
    )
    if want_timeout is not None and want_timeout != have_timeout:
        shorter = have_timeout is not None and have_timeout < want_timeout
        findings.append(
            Finding(
                MANDATORY if shorter else ADVISORY,
                resource,
                "timeout",
                want_timeout,
                have_timeout,
                f"timeout is {have_timeout:g} s, the stack declares {want_timeout:g} s"
                + (": the longest files are cut off" if shorter else ""),
            )
        )
    want_variables = (function_inputs.get("environment") or {}).get("variables") or {}
    have_variables = (configuration.get("Environment") or {}).get("Variables") or {}
    want_index = want_variables.get(contract.INDEX_BUCKET)
    if want_index is not None and have_variables.get(contract.INDEX_BUCKET) != want_index:
        have_index = have_variables.get(contract.INDEX_BUCKET)
        findings.append(
            Finding(
                MANDATORY,
                resource,
                f"environment.{contract.INDEX_BUCKET}",
                want_index,
                have_index,
                f"environment {contract.INDEX_BUCKET} is {have_index or 'not set'}, the stack declares {want_index}: "
                "the index is not written where search reads it",
            )
        )
    if mapping_inputs is None or not live.queue_found:
        return findings
    for other in live.other_mappings:
        if other.get("State") in ACTIVE_STATES:
            findings.append(
                Finding(
                    MANDATORY,
                    resource,
                    "eventSourceMapping.others",
                    None,
                    other.get("FunctionArn"),
                    f"{queue} also feeds function {function_name_of(other.get('FunctionArn', ''))} (event source "
                    f"mapping {other.get('UUID', '?')}), which the stack does not declare: some uploads are "
                    "processed elsewhere",
                )
            )
    if not live.mappings:
        return [
            *findings,
            Finding(
                MANDATORY,
                resource,
                "eventSourceMapping",
                queue,
                None,
                f"no event source mapping from {queue}: no consumer processes the queue",
            ),
        ]
    for mapping in live.mappings:
        findings += _mapping_findings(mapping_inputs, mapping, resource, queue)
    return findings


def _mapping_findings(
    inputs: dict[str, Any],
    mapping: dict[str, Any],
    resource: str,
    queue: str | None,
) -> list[Finding]:
    uuid = mapping.get("UUID", "?")
    findings = []
    state = mapping.get("State")
    if state not in ACTIVE_STATES:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "eventSourceMapping.state",
                "Enabled",
                state,
                f"event source mapping {uuid} from {queue} is {state}: no consumer processes the queue",
            )
        )
    declared_types = inputs.get("functionResponseTypes") or []
    live_types = mapping.get("FunctionResponseTypes") or []
    if REPORT_BATCH_ITEM_FAILURES in declared_types and REPORT_BATCH_ITEM_FAILURES not in live_types:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "eventSourceMapping.functionResponseTypes",
                declared_types,
                live_types,
                f"event source mapping {uuid} does not report batch item failures ({REPORT_BATCH_ITEM_FAILURES} "
                "removed): one failed record returns its whole batch to the queue",
            )
        )
    for key, field_name, read in MAPPING_SETTINGS:
        want, have = _number(declared_mapping_setting(inputs, key)), _number(read(mapping))
        if want is not None and want != have:
            shown = "not set" if have is None else f"{have:g}"
            findings.append(
                Finding(
                    ADVISORY,
                    resource,
                    f"eventSourceMapping.{key}",
                    want,
                    have,
                    f"event source mapping {uuid}: {field_name} is {shown}, the stack declares {want:g}",
                )
            )
    return findings
