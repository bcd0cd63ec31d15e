"""The consumer side of the stack as declared: who reads the queues and what IAM lets them do.

The audit reads queues, buckets, alarms and the Auto Scaling Group live, but not launch templates,
roles or Lambda mappings. The pack's consumer rules (visibility covers the consumers' processing,
consumers can delete) need them, so the declared ones are judged beside the live queues, with the
offline render's queue URLs and ARNs replaced by the live ones.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from typing import Any

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
