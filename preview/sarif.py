"""The gate's verdict as SARIF 2.1.0 (`python -m preview --sarif FILE`), for GitHub code scanning.

One result per violation: `ruleId` the policy, `level` error for a blocking (mandatory or
remediate) violation and warning for an advisory one, located at the line of the program that
declared the resource (the SDK sends that position with every registration), else the program's
entry point. Policies that could not run during preview are tool notifications, not results, so a
clean stack has an empty results list. The properties GitHub reads are listed at
https://docs.github.com/en/code-security/reference/code-scanning/sarif-files/sarif-support
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from pulumi_policy import EnforcementLevel, Policy

from preview.gate import BLOCKING_LEVELS, GateResult, Violation, enforcement_level
from preview.mocks import RecordedResource
from preview.values import redact

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "pipeline-policy-gate"


def sarif_level(level: str) -> str:
    """error for what fails `pulumi preview` (mandatory, remediate), warning for advisory."""
    return "error" if level in BLOCKING_LEVELS else "warning"


def sarif_log(
    result: GateResult,
    policies: list[Policy],
    pack_config: dict[str, dict[str, Any]],
    resources: list[RecordedResource],
    entry_point: Path,
    secrets: set[str] | None = None,
    shown_from: Path | None = None,
) -> dict[str, Any]:
    """The SARIF log of one gate run; secrets in messages print [secret]; paths relative to `shown_from`
    (the repository root in CI)."""
    secrets = secrets or set()
    shown_from = shown_from or Path.cwd()
    rule_index = {policy.name: index for index, policy in enumerate(policies)}
    positions = {resource.urn: resource.source_position for resource in resources}
    rules = [
        {
            "id": policy.name,
            "name": policy.name,
            "shortDescription": {"text": policy.description or policy.name},
            "defaultConfiguration": _configuration(enforcement_level(policy, pack_config).value),
            "properties": {"enforcementLevel": enforcement_level(policy, pack_config).value},
        }
        for policy in policies
    ]
    results = [
        _result(violation, redact(violation.message, secrets), rule_index, positions, entry_point, shown_from)
        for violation in result.violations
    ]
    notes = [
        {"level": "note", "message": {"text": f"{note.policy}: {redact(note.message, secrets)}"}}
        for note in result.could_not_run
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": TOOL_NAME, "rules": rules}},
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}],
                "results": results,
            }
        ],
    }


def _configuration(level: str) -> dict[str, Any]:
    if level == EnforcementLevel.DISABLED.value:
        return {"enabled": False, "level": "none"}
    return {"level": sarif_level(level)}


def _result(
    violation: Violation,
    message: str,
    rule_index: dict[str, int],
    positions: dict[str, tuple[str, int] | None],
    entry_point: Path,
    shown_from: Path,
) -> dict[str, Any]:
    file, line = _declared_at(positions.get(violation.urn), entry_point)
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(file, shown_from)},
            "region": {"startLine": line},
        }
    }
    if violation.urn:
        location["logicalLocations"] = [{"fullyQualifiedName": violation.urn, "kind": "resource"}]
    result: dict[str, Any] = {
        "ruleId": violation.policy,
        "level": sarif_level(violation.level),
        "message": {"text": message},
        "locations": [location],
    }
    if violation.policy in rule_index:
        result["ruleIndex"] = rule_index[violation.policy]
    return result


def _declared_at(position: tuple[str, int] | None, entry_point: Path) -> tuple[Path, int]:
    """(file, line) where the program declared the resource; the entry point's first line otherwise
    (a stack policy's violation, or a resource registered without a position)."""
    if position:
        uri, line = position
        parsed = urlparse(uri)
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(uri)
        if path.is_file() and line > 0:
            return path, line
    return entry_point, 1


def _uri(path: Path, shown_from: Path) -> str:
    """Relative to `shown_from` when the file lies below it (as code scanning resolves paths against the
    checkout), else an absolute file URI."""
    try:
        return quote(path.resolve().relative_to(shown_from.resolve()).as_posix())
    except ValueError:
        return path.resolve().as_uri()


def write_sarif(path: Path, document: dict[str, Any]) -> None:
    """Write atomically: an interrupted run leaves the previous file (or none), never half a log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
