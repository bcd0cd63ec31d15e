"""Mock outputs typed as the provider returns them, from the types the generated SDK declares.

A provider returns each output in its schema type: pulumi-aws takes a policy document as a
structure for properties it stores as a JSON string (`aws.iam.Role.assume_role_policy`,
`aws.sqs.QueuePolicy.policy`, ...) and returns the string; a number given to a string property
comes back as its text. The SDK checks what it receives against the declared type
(`AssertionError: Unexpected type; expected a value of type <class 'str'>`), so a mock that echoes
the input dict fails where `pulumi preview` renders. The declared types are read from the SDK's
own registry (the resource module a generated SDK registers for each type token) and its `_types`
machinery, never from a hand list. See https://github.com/pulumi/pulumi-aws/issues/5338 for the
policy-document inputs pulumi-aws 7 accepts and stores as strings.
"""

from __future__ import annotations

import collections.abc
import functools
import importlib
import json
import typing
from enum import Enum
from typing import Any

from pulumi import _types
from pulumi.runtime import rpc

from preview.values import UNKNOWN, contains_unknown, is_unknown


@functools.cache
def declared_output_types(token: str) -> dict[str, Any]:
    """{engine name: declared type} of the resource type `token` ("aws:iam/role:Role"); {} when unknown."""
    cls = resource_class(token)
    if cls is None:
        return {}
    try:
        return _types.resource_types(cls)
    except Exception:  # noqa: BLE001 - a hint the SDK itself cannot resolve: leave the value untyped
        return {}


def resource_class(token: str) -> type | None:
    """The generated class of `token`, found through the resource module its SDK registered."""
    parts = token.split(":")
    if len(parts) != 3:
        return None
    package, module_name, _ = parts
    module = rpc.get_resource_module(package, module_name, "")
    info = getattr(module, "mod_info", None)  # pulumi-generated SDKs' Module (their _utilities.py)
    if not isinstance(info, dict) or token not in info.get("classes", {}):
        return None
    try:
        return getattr(importlib.import_module(info["fqn"]), info["classes"][token])
    except (ImportError, AttributeError):
        return None


def typed_outputs(token: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """`outputs` with each value converted to the type the SDK declares for it."""
    types = declared_output_types(token)
    if not types:
        return outputs
    return {key: typed(value, types.get(key)) for key, value in outputs.items()}


def typed(value: Any, declared: Any) -> Any:
    """`value` as the provider returns a value of type `declared` (None: untyped, unchanged)."""
    if declared is None or declared is Any or value is None or is_unknown(value):
        return value
    declared = _types.unwrap_optional_type(declared)
    if declared is str:
        return _as_string(value)
    if declared in (int, float) and isinstance(value, str):
        return _as_number(value, declared)
    if declared is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(declared, type) and issubclass(declared, Enum):
        return value
    if isinstance(declared, type) and _types.is_output_type(declared) and isinstance(value, dict):
        fields = _types.output_type_types(declared)
        return {key: typed(item, fields.get(key)) for key, item in value.items()}
    origin = typing.get_origin(declared)
    arguments = typing.get_args(declared)
    if origin in (list, collections.abc.Sequence) and isinstance(value, list) and len(arguments) == 1:
        return [typed(item, arguments[0]) for item in value]
    if origin in (dict, collections.abc.Mapping) and isinstance(value, dict) and len(arguments) == 2:
        return {key: typed(item, arguments[1]) for key, item in value.items()}
    return value


_BOOLEAN_TEXTS = frozenset(("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"))
"""What the provider's conversion (Go's strconv.ParseBool) reads as a boolean."""


class ProviderCheckError(Exception):
    """An input the provider cannot convert to its schema type: its check fails, and so does the preview."""

    def __init__(self, message: str, declared_at: tuple[str, int] | None) -> None:
        super().__init__(message)
        self.message = message
        self.declared_at = declared_at
        """(file URI, line) of the program code that declared the resource."""


def check_inputs(
    token: str, name: str, inputs: dict[str, Any], declared_at: tuple[str, int] | None = None
) -> None:
    """Fail as the provider's check does on a known input it cannot convert to the declared number
    or boolean (`visibility_timeout_seconds="soon"`): the SDK sends any value, the provider refuses
    it, and `pulumi preview` stops with the resource's error. A numeric string passes (the provider
    converts it, as `typed` does)."""
    types = declared_output_types(token)
    for key, value in inputs.items():
        for path, bad, expected in _unconvertible(value, types.get(key), key):
            raise ProviderCheckError(
                f"{token} resource '{name}': {path}={bad!r} is not {expected}, as the provider's schema "
                "declares it; pass a value of that type",
                declared_at,
            )


def _unconvertible(value: Any, declared: Any, path: str) -> typing.Iterator[tuple[str, Any, str]]:
    if declared is None or declared is Any or value is None or is_unknown(value):
        return
    declared = _types.unwrap_optional_type(declared)
    if declared in (int, float) and isinstance(value, str) and isinstance(_as_number(value, declared), str):
        yield path, value, "a number"
    elif declared is bool and isinstance(value, str) and value not in _BOOLEAN_TEXTS:
        yield path, value, "a boolean"
    elif isinstance(declared, type) and _types.is_output_type(declared) and isinstance(value, dict):
        fields = _types.output_type_types(declared)
        for key, item in value.items():
            yield from _unconvertible(item, fields.get(key), f"{path}.{key}")
    elif typing.get_origin(declared) in (list, collections.abc.Sequence) and isinstance(value, list):
        (item_type,) = typing.get_args(declared)[:1] or (None,)
        for index, item in enumerate(value):
            yield from _unconvertible(item, item_type, f"{path}[{index}]")


def _as_string(value: Any) -> Any:
    """A structure as its JSON (compact, keys sorted, as the provider's Go encoder writes it); a scalar as text."""
    if isinstance(value, (dict, list)):
        if contains_unknown(value):
            return UNKNOWN  # a structure holding an unknown has no JSON text yet, as in the engine
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _as_number(value: str, declared: type) -> Any:
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if declared is int and number.is_integer() else number
