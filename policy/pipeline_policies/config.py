"""Policy config: a schema per policy, with defaults, read the same way by the engine and the gate."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyConfigSchema


def schema(**properties: dict[str, Any]) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


def setting(args: Any, config_schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value of `key`, or the schema's default when the pack config does not set it."""
    configured = args.get_config() or {}
    return configured.get(key, config_schema.properties[key]["default"])
