"""Read lambda mode's consumer live: the function's configuration and the mappings from the work queue.

Response shapes: GetFunctionConfiguration (Timeout, Handler, Runtime, Environment.Variables) and
ListEventSourceMappings (UUID, State, FunctionArn, BatchSize, MaximumBatchingWindowInSeconds,
FunctionResponseTypes, ScalingConfig; https://docs.aws.amazon.com/lambda/latest/api/API_ListEventSourceMappings.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

ACTIVE_STATES = ("Enabled", "Enabling", "Updating")
"""Mapping states in which Lambda polls the queue; Creating, Disabling, Disabled and Deleting deliver
nothing (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html, State)."""


@dataclass
class LiveFunction:
    """What Lambda says about the declared function; `configuration` None when it does not exist."""

    name: str
    configuration: dict[str, Any] | None = None
    mappings: list[dict[str, Any]] = field(default_factory=list)
    """Event source mappings from the live work queue to this function (any version or alias)."""
    other_mappings: list[dict[str, Any]] = field(default_factory=list)
    """Mappings from the work queue to other functions."""
    queue_found: bool = False
    """The work queue exists live, so its mappings were read."""

    @property
    def consuming(self) -> bool:
        """The function exists and an enabled mapping feeds it the work queue."""
        return self.configuration is not None and any(
            mapping.get("State") in ACTIVE_STATES for mapping in self.mappings
        )


def function_name_of(arn: str) -> str:
    """`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` -> NAME."""
    parts = str(arn).split(":")
    return parts[6] if len(parts) >= 7 else str(arn)


def read_function(lambda_client: Any, function_name: str, queue_arn: str | None) -> LiveFunction:
    """The function's configuration and the mappings from `queue_arn` (none read when the queue is gone)."""
    live = LiveFunction(name=function_name)
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        configuration = None
    if configuration is not None:
        configuration.pop("ResponseMetadata", None)
        live.configuration = configuration
    if not queue_arn:
        return live
    live.queue_found = True
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for page in paginator.paginate(EventSourceArn=queue_arn):
        for mapping in page.get("EventSourceMappings", []):
            if function_name_of(mapping.get("FunctionArn", "")) == function_name:
                live.mappings.append(mapping)
            else:
                live.other_mappings.append(mapping)
    return live
