"""Reading resource properties the way the policy engine hands them over.

The engine wraps properties in `pulumi_policy.proxy`, which raises `UnknownValueError` on a value
that is not known during preview. Most rules let that happen (the engine then reports that the rule
could not run). A rule that can decide without the value (a redrive policy that exists but whose
target ARN is not known yet) uses `peek`, which returns `UNKNOWN` instead of raising.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_SENTINELS = {
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
}


_PLAIN = (dict, list, tuple, str, int, float, bool, type(None))


class _Unknown:
    """A value that exists but is not known yet (during `pulumi preview`)."""

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return True  # it is present


UNKNOWN = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def _target(container: Any) -> Any:
    """The plain dict or list behind a policy proxy (the proxy itself raises on unknown members)."""
    if type(container) in _PLAIN:
        return container
    if isinstance(container, Mapping) and not isinstance(container, dict):
        return container["__target"]
    if isinstance(container, Sequence) and not isinstance(container, (list, tuple, str)):
        return container["__target"]
    return container


def peek(props: Any, key: str, default: Any = None) -> Any:
    """props[key] without raising: the value, `default` when absent, or UNKNOWN when not known yet."""
    if props is UNKNOWN or (type(props) is str and props in _SENTINELS):
        return UNKNOWN
    target = _target(props)
    if type(target) is not dict and not isinstance(target, Mapping):
        return default
    value = target.get(key, default)
    if is_unknown(value):
        return UNKNOWN
    return value


def known(value: Any, *path: str) -> Any:
    """`value`, or raise the engine's UnknownValueError so it reports 'cannot run during preview'."""
    if is_unknown(value):
        raise UnknownValueError(UNKNOWN_STRING_VALUE, list(path))
    return value


def elements(value: Any) -> Iterator[Any]:
    """The members of a list-valued property (nothing when absent; UNKNOWN members stay UNKNOWN)."""
    if value is None or is_unknown(value):
        return iter(())
    target = _target(value)
    if isinstance(target, (str, Mapping)):
        return iter((target,))
    return (UNKNOWN if is_unknown(item) else item for item in target)


def as_number(value: Any) -> float | None:
    """Numbers arrive as floats (900.0) or, in JSON documents, as strings ("3")."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def json_document(value: Any, *path: str) -> Any:
    """A JSON document property (policies, redrive policies): parsed, or raise when unknown."""
    value = known(value, *path)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return _plain(value)


def _plain(value: Any) -> Any:
    target = _target(value)
    if isinstance(target, Mapping):
        return {key: _plain(item) for key, item in target.items()}
    if isinstance(target, (list, tuple)):
        return [_plain(item) for item in target]
    return target


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: Any) -> list[dict]:
    """The statements of an IAM / resource policy document, each as a dict."""
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def pattern_matches(pattern: str, value: str) -> bool:
    """IAM wildcard match (`*`, `?`), case-insensitive as IAM actions are."""
    return fnmatchcase(value.lower(), pattern.lower())


def decoded_user_data(value: Any) -> str:
    """User data as text: base64-decoded where it is base64 (launch templates), else as given."""
    text = str(known(value, "userData"))
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(['\"]?)(.*?)\2\s*$")
# KEY=value inside a line: `echo 'KEY=v' >> /etc/environment`, systemd `Environment="A=1" "B=2"`,
# `docker run -e KEY=v`, `KEY=v command`.
_ENV_INLINE = re.compile(r"""(?:^|[\s'"])([A-Z][A-Z0-9_]*)=(?:"([^"\n]*)"|'([^'\n]*)'|([^\s'"]*))""")


def environment_assignments(text: str) -> dict[str, str]:
    """`KEY=value` assignments in a user-data script, as its shell lines, an EnvironmentFile, echo or
    systemd `Environment=` lines and `docker run -e` write them; comment lines are skipped and a later
    assignment wins, as it does when the script runs."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        whole = _ENV_LINE.match(line)
        if whole is not None:
            found[whole.group(1)] = whole.group(3)
            continue
        for match in _ENV_INLINE.finditer(line):
            found[match.group(1)] = next(value for value in match.group(2, 3, 4) if value is not None)
    return found
