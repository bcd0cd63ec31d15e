"""Unknown and secret values as the preview records and shows them.

The engine marks a value it cannot know during preview with the sentinel string the SDKs share
(`pulumi.runtime.rpc.UNKNOWN`, the policy SDK's `UNKNOWN_STRING_VALUE`), and wraps a secret in a
signature object. Here a recorded property keeps the sentinel (so the policy gate's
unknown-checking proxy sees it) and its plain value, with the paths of its secrets kept beside it,
so that every place that shows a value can print `[secret]` instead.
"""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

UNKNOWN = rpc.UNKNOWN
"""The engine's sentinel for a value unknown during preview (equal to pulumi_policy's UNKNOWN_STRING_VALUE)."""
SECRET_SHOWN = "[secret]"
UNKNOWN_SHOWN = "[unknown]"
_SIG_KEY = rpc._special_sig_key  # noqa: SLF001 - the wire format's own constant
_SECRET_SIG = rpc._special_secret_sig  # noqa: SLF001


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


def is_secret_wrapper(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def wrap_secret(value: Any) -> dict[str, Any]:
    return {_SIG_KEY: _SECRET_SIG, "value": value}


def plain(value: Any, secrets: set[str], path: str = "") -> Any:
    """`value` with unknowns as the sentinel and secrets unwrapped; each secret's path added to `secrets`."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if is_secret_wrapper(value):
        secrets.add(path)
        return plain(value.get("value"), secrets, path)
    if isinstance(value, dict):
        return {key: plain(item, secrets, _join(path, key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, secrets, _join(path, str(index))) for index, item in enumerate(value)]
    return value


def plain_properties(properties: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    secrets: set[str] = set()
    return {key: plain(value, secrets, key) for key, value in properties.items()}, secrets


def shown(value: Any, secrets: set[str] | frozenset[str] = frozenset(), path: str = "") -> Any:
    """`value` as the user sees it: `[secret]` at every secret path, `[unknown]` for unknowns."""
    if path and path in secrets:
        return SECRET_SHOWN
    if is_unknown(value):
        return UNKNOWN_SHOWN
    if isinstance(value, dict):
        return {key: shown(item, secrets, _join(path, key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [shown(item, secrets, _join(path, str(index))) for index, item in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine carries every number as a double; the CLI prints 30, not 30.0
    return value


def shown_properties(properties: dict[str, Any], secrets: set[str] | frozenset[str]) -> dict[str, Any]:
    return {key: shown(value, secrets, key) for key, value in properties.items()}


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(item) for item in value)
    return False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def secret_texts(properties: dict[str, Any], secrets: set[str] | frozenset[str]) -> set[str]:
    """The plain strings at the secret paths of `properties` (to redact them from free text)."""
    found: set[str] = set()
    for path in secrets:
        value: Any = properties
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
                break
        _strings(value, found)
    return {text for text in found if len(text) >= MIN_REDACTED_LENGTH and not is_unknown(text)}


def redact(text: str, secrets: set[str]) -> str:
    """`text` with every secret string in it replaced by [secret] (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, SECRET_SHOWN)
    return text


def redact_all(value: Any, secrets: set[str]) -> Any:
    """Every string inside `value` redacted (a URL or ARN built from a secret name prints [secret])."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: redact_all(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_all(item, secrets) for item in value]
    return value


MIN_REDACTED_LENGTH = 4
"""Shorter secrets ("", "1", "yes") would redact ordinary words from a message."""


def _strings(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)
