"""A checker for CloudWatch Embedded Metric Format documents, written from the specification
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
a JSON object whose `_aws` holds `Timestamp` (epoch milliseconds) and `CloudWatchMetrics`, an array of
directives, each with `Namespace`, `Dimensions` (an array of dimension sets, each an array of at most 30
strings naming root members whose values are strings) and `Metrics` (at most 100 definitions, each a
`Name` naming a root member whose value is a number or an array of at most 100 numbers, and an optional
`Unit` from CloudWatch's units)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
}  # fmt: skip
"""MetricDatum.Unit's values (CloudWatch API reference, MetricDatum)."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def emf_problems(line: str, now_ms: float | None = None) -> list[str]:
    """What in this log line breaks the EMF specification; [] for a valid document."""
    try:
        document = json.loads(line)
    except ValueError as error:
        return [f"not JSON: {error}"]
    if not isinstance(document, dict):
        return ["not a JSON object"]
    meta = document.get("_aws")
    if not isinstance(meta, dict):
        return ["no _aws object"]
    problems = []
    timestamp = meta.get("Timestamp")
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    if not _number(timestamp) or not (now_ms - 14 * 86_400_000 <= timestamp <= now_ms + 2 * 3_600_000):
        problems.append(f"Timestamp {timestamp!r} is not epoch milliseconds within 2 weeks / 2 hours of now")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*problems, "CloudWatchMetrics is not a non-empty array"]
    for directive in directives:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            problems.append(f"Namespace {namespace!r} is not a 1..255 character string")
        for dimension_set in directive.get("Dimensions", []):
            if not isinstance(dimension_set, list) or len(dimension_set) > 30:
                problems.append(f"dimension set {dimension_set!r} is not an array of at most 30 keys")
                continue
            for key in dimension_set:
                value = document.get(key)
                if not isinstance(value, str) or not 1 <= len(value) <= 1024:
                    problems.append(f"dimension {key!r} has value {value!r}, not a 1..1024 character string")
        definitions = directive.get("Metrics")
        if not isinstance(definitions, list) or len(definitions) > 100:
            problems.append("Metrics is not an array of at most 100 definitions")
            continue
        for definition in definitions:
            name = definition.get("Name")
            unit = definition.get("Unit", "None")
            if unit not in UNITS:
                problems.append(f"{name}: unit {unit!r} is not a CloudWatch unit")
            value = document.get(name)
            if isinstance(value, list):
                if not 1 <= len(value) <= 100 or not all(_number(v) for v in value):
                    problems.append(f"{name}: array of {len(value)} values, not 1..100 numbers")
            elif not _number(value):
                problems.append(f"{name}: value {value!r} is not a number")
    return problems
