"""What every rule shares: its config schema and settings, and the one adapter from a query over the stack's
model to the engine's `validate(args, report_violation)`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, StackValidationArgs

from ..analysis.index import index_stack
from ..analysis.model import StackIndex

Finding = tuple[str, str]
"""(message, urn): one violation, the message naming the AWS behaviour and the fix."""


def schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


def setting(args: Any, config_schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value of `key`, or the schema's default when the pack config does not set it."""
    configured = args.get_config() or {}
    return configured.get(key, config_schema.properties[key]["default"])


Settings = Callable[[str], Any]
"""A policy's setting by key (its configured value or its schema's default)."""


def stack_validator(
    findings: Callable[[StackIndex, Settings], Iterable[Finding]],
    config_schema: PolicyConfigSchema | None = None,
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    """A stack policy's `validate`: the query's findings, reported in order. A query that needs a value not
    known yet raises the engine's UnknownValueError (after reporting what it could decide)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        index = index_stack(args.resources)

        def settings(key: str) -> Any:
            assert config_schema is not None, "the policy reads a setting but declares no config schema"
            return setting(args, config_schema, key)

        for message, urn in findings(index, settings):
            report_violation(message, urn)

    validate.__doc__ = findings.__doc__
    return validate


def plain_props(props: Any) -> dict[str, Any]:
    """A resource's props as a plain dict (for a remediation to return), unwrapped from the engine's proxy."""
    target = props["__target"] if not isinstance(props, dict) else props
    return dict(target)
