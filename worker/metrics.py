"""CloudWatch metrics, aggregated in memory and flushed periodically (never one call per message).

Counts become one datum each per flush; durations become one StatisticValues set (count, sum, min,
max). A flush that fails keeps its data for the next one, so a CloudWatch hiccup loses nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from worker.contract import (  # noqa: F401 - the metric names, spelled once in the contract
    DEAD_LETTERED,
    DELETE_FAILED,
    DUPLICATES,
    DURATION,
    FAILED,
    OBJECTS_GONE,
    PROCESSED,
    RELEASED,
    TEST_EVENTS,
    VISIBILITY_LOST,
)

log = logging.getLogger("worker.metrics")


PUT_METRIC_DATA_MAX_ITEMS = 1000


class Metrics:
    def __init__(self, cloudwatch: Any, namespace: str, dimensions: dict[str, str]) -> None:
        self._cloudwatch = cloudwatch
        self._namespace = namespace
        self._dimensions = [{"Name": name, "Value": value} for name, value in dimensions.items()]
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._durations_ms: list[float] = []
        self.totals: Counter[str] = Counter()
        """Everything counted since start-up (for logs, the benchmark and tests)."""

    def count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value
            self.totals[name] += value

    def duration(self, milliseconds: float) -> None:
        with self._lock:
            self._durations_ms.append(milliseconds)

    def flush(self) -> bool:
        """Send what has accumulated; on failure keep it for the next flush. Returns success."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            durations, self._durations_ms = self._durations_ms, []
        data: list[dict[str, Any]] = [
            {"MetricName": name, "Dimensions": self._dimensions, "Value": float(value), "Unit": "Count"}
            for name, value in counts.items()
        ]
        if durations:
            data.append(
                {
                    "MetricName": DURATION,
                    "Dimensions": self._dimensions,
                    "Unit": "Milliseconds",
                    "StatisticValues": {
                        "SampleCount": float(len(durations)),
                        "Sum": sum(durations),
                        "Minimum": min(durations),
                        "Maximum": max(durations),
                    },
                }
            )
        if not data:
            return True
        try:
            for start in range(0, len(data), PUT_METRIC_DATA_MAX_ITEMS):
                chunk = data[start : start + PUT_METRIC_DATA_MAX_ITEMS]
                self._cloudwatch.put_metric_data(Namespace=self._namespace, MetricData=chunk)
        except Exception as error:  # noqa: BLE001 - metrics must never stop the worker
            log.warning("metric flush failed, keeping the data for the next flush: %s", error)
            with self._lock:
                self._counts.update(counts)
                self._durations_ms.extend(durations)
            return False
        return True


class EmbeddedMetrics:
    """The same counts and durations as `Metrics`, flushed as one CloudWatch Embedded Metric Format
    line on stdout instead of PutMetricData: in Lambda, CloudWatch Logs extracts the metrics from the
    function's log, so the handler makes no CloudWatch call and the alarms read the same names.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """

    def __init__(self, namespace: str, dimensions: dict[str, str], write: Any = None) -> None:
        self._namespace = namespace
        self._dimensions = dict(dimensions)
        self._write = write or _print_line
        self._counts: Counter[str] = Counter()
        self._durations_ms: list[float] = []
        self.totals: Counter[str] = Counter()

    def count(self, name: str, value: int = 1) -> None:
        self._counts[name] += value
        self.totals[name] += value

    def duration(self, milliseconds: float) -> None:
        self._durations_ms.append(milliseconds)

    def flush(self) -> bool:
        """Write what has accumulated as EMF lines (a line holds at most 100 values per metric)."""
        counts, self._counts = self._counts, Counter()
        durations, self._durations_ms = self._durations_ms, []
        if counts:
            self._write(emf_line(self._namespace, self._dimensions, counts, "Count"))
        for start in range(0, len(durations), EMF_MAX_VALUES):
            chunk = durations[start : start + EMF_MAX_VALUES]
            self._write(emf_line(self._namespace, self._dimensions, {DURATION: chunk}, "Milliseconds"))
        return True


EMF_MAX_VALUES = 100
"""An EMF metric value may be an array of at most 100 numbers (the specification's limit)."""


def emf_line(namespace: str, dimensions: dict[str, str], values: Mapping[str, Any], unit: str) -> str:
    """One EMF document: `_aws` metadata naming each metric and the dimension set, the values as
    top-level members beside the dimension values."""
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name in values],
                }
            ],
        },
        **dimensions,
    }
    for name, value in values.items():
        document[name] = value if isinstance(value, list) else float(value)
    return json.dumps(document, ensure_ascii=False)


def _print_line(line: str) -> None:
    print(line, flush=True)
