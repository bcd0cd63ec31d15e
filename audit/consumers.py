"""The consumer side of the stack as declared: who reads the queues and what IAM lets them do.

The audit reads queues, buckets, alarms, the Auto Scaling Group and (lambda mode) the function and its
event source mappings live, but not launch templates or roles. The pack's consumer rules (visibility
covers the consumers' processing, consumers can delete) need them, so the declared ones are judged
beside the live queues, with the offline render's queue URLs and ARNs replaced by the live ones, and
the declared function and mapping replaced by the live ones (`with_live_function`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

from audit.live_function import ACTIVE_STATES, LiveFunction
from preview.mocks import RecordedResource

CONSUMER_TYPES = (
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/instance:Instance",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/policy:Policy",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:lambda/function:Function",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
)


def declared_consumers(
    resources: list[RecordedResource], replacements: dict[str, str]
) -> list[RecordedResource]:
    """The declared consumer resources, every declared queue URL/ARN replaced by its live one."""
    found = []
    for resource in resources:
        if resource.type not in CONSUMER_TYPES:
            continue
        found.append(
            dataclasses.replace(
                resource,
                inputs=_replace(resource.inputs, replacements),
                outputs=_replace(resource.outputs, replacements),
            )
        )
    return found


def _replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _replace(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, replacements) for item in value]
    if not isinstance(value, str) or not replacements:
        return value
    decoded = _base64_text(value)
    if decoded is not None:
        replaced = _replace_text(decoded, replacements)
        return value if replaced == decoded else base64.b64encode(replaced.encode()).decode()
    return _replace_text(value, replacements)


def _replace_text(text: str, replacements: dict[str, str]) -> str:
    for declared, live in sorted(replacements.items(), key=lambda item: -len(item[0])):
        text = text.replace(declared, live)
    return text


def _base64_text(value: str) -> str | None:
    """User data arrives base64-encoded; anything else (or short strings) is taken as plain text."""
    if len(value) < 16 or len(value) % 4:
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


FUNCTION_TYPE = "aws:lambda/function:Function"
MAPPING_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping"


def with_live_function(
    consumers: list[RecordedResource], live: LiveFunction | None
) -> list[RecordedResource]:
    """The declared function and mapping replaced by what Lambda runs, so the pack judges the live timeout,
    batch size, window, concurrency and response types beside the live queue. A function or mapping that
    does not exist is left out (its finding says so). The role stays the declared one: IAM is not read live.
    """
    if live is None:
        return consumers
    configuration = live.configuration
    judged = []
    for resource in consumers:
        if resource.type == FUNCTION_TYPE:
            if configuration is None:
                continue
            judged.append(_overlaid(resource, _function_props(configuration)))
        elif resource.type == MAPPING_TYPE:
            if configuration is None:
                continue
            for number, mapping in enumerate(live.mappings):
                overlaid = _overlaid(resource, _mapping_props(mapping))
                if number:
                    overlaid = dataclasses.replace(
                        overlaid, urn=f"{resource.urn}-{mapping.get('UUID', number)}"
                    )
                judged.append(overlaid)
        else:
            judged.append(resource)
    return judged


def _overlaid(resource: RecordedResource, props: dict[str, Any]) -> RecordedResource:
    return dataclasses.replace(
        resource, inputs={**resource.inputs, **props}, outputs={**resource.outputs, **props}
    )


def _function_props(configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": configuration.get("FunctionName"),
        "arn": configuration.get("FunctionArn"),
        "timeout": float(configuration.get("Timeout", 3)),
        "handler": configuration.get("Handler"),
        "runtime": configuration.get("Runtime"),
        "memorySize": float(configuration.get("MemorySize", 128)),
        "environment": {"variables": (configuration.get("Environment") or {}).get("Variables") or {}},
    }


def _mapping_props(mapping: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "uuid": mapping.get("UUID"),
        "eventSourceArn": mapping.get("EventSourceArn"),
        "functionName": mapping.get("FunctionArn"),
        "functionArn": mapping.get("FunctionArn"),
        "enabled": mapping.get("State") in ACTIVE_STATES,
        "batchSize": float(mapping.get("BatchSize") or 10),
        "maximumBatchingWindowInSeconds": float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
        "functionResponseTypes": list(mapping.get("FunctionResponseTypes") or []),
    }
    concurrency = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
    props["scalingConfig"] = {"maximumConcurrency": float(concurrency)} if concurrency is not None else {}
    return props
