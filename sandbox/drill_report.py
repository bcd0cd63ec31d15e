"""The drill's report: the text a person reads, one JSON object for tools, and the queue-depth chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sandbox.drill_verdicts import DrillFacts, DrillRun
from worker.success_criteria import Verdict


def text_report(runs: Sequence[DrillRun]) -> str:
    lines: list[str] = []
    for result in runs:
        lines += _run_lines(result)
    if len(runs) == 2 and all(result.facts for result in runs):
        lines += _side_by_side(*runs)
    return "\n".join(lines)


def _run_lines(result: DrillRun) -> list[str]:
    lines = [f"== {result.variant} configuration: {result.uploads} uploads, {result.workers} workers =="]
    facts = result.facts
    if facts is None:
        return [*lines, "   (no facts: the run stopped before it could read them)", *result.notes]
    for key, values in facts.scaled.items():
        lines.append(f"   scaled: {key} {values['declared']:g} s -> {values['drill']:g} s")
    lines.append(f"   drained: {'yes' if result.drained else 'no'} after {result.seconds:.1f} s")
    lines.append(
        f"   messages received and handled by workers: {facts.messages_handled}, deleted: {facts.messages_deleted}"
    )
    lines.append(
        f"   max receive count seen: {facts.max_receive_count_seen} (maxReceiveCount: {facts.max_receive_count or 'none - no redrive'})"
    )
    writes = [count for count in facts.index_writes.values() if count]
    lines.append(
        f"   index documents written: {sum(writes)} for {len(writes)} files (max {max(writes, default=0)} writes per file)"
    )
    for entry in facts.dead_lettered:
        lines.append(f"   dead-lettered: {entry.key}: {entry.reason}")
    if facts.sqs_requests:
        lines.append(f"   SQS requests per upload: {facts.sqs_requests / result.uploads:.2f}")
    lines.append(f"   worker metrics in CloudWatch: {json.dumps(facts.metrics)}")
    for check in result.checks:
        verdict = str(check.verdict)
        if check.verdict is Verdict.FAIL and result.variant == "incident":
            verdict = "FAIL, as expected"
        lines.append(f"   [{verdict}] {check.name}: {check.detail}")
    return lines + [f"   {note}" for note in result.notes]


def _side_by_side(fixed: DrillRun, incident: DrillRun) -> list[str]:
    left: DrillFacts = fixed.facts  # type: ignore[assignment]
    right: DrillFacts = incident.facts  # type: ignore[assignment]
    rows = [
        ("queue drained", "yes" if fixed.drained else "no", "yes" if incident.drained else "no"),
        ("max receive count seen", left.max_receive_count_seen, right.max_receive_count_seen),
        ("messages handled", left.messages_handled, right.messages_handled),
        (
            "max index writes per file",
            max(left.index_writes.values(), default=0),
            max(right.index_writes.values(), default=0),
        ),
        ("messages left in the queue", left.messages_left, right.messages_left),
        (
            "in the DLQ",
            len(left.dead_lettered),
            len(right.dead_lettered) if right.max_receive_count else "no DLQ",
        ),
    ]
    lines = ["== side by side ==", f"   {'':34} {fixed.variant:>12} {incident.variant:>12}"]
    return lines + [f"   {label:34} {a!s:>12} {b!s:>12}" for label, a, b in rows]


def as_json(runs: Sequence[DrillRun], chart: Path | None, logs: Path) -> dict[str, Any]:
    return {
        "runs": [asdict(result) | {"passed": result.passed} for result in runs],
        "chart": str(chart) if chart else None,
        "logs": str(logs),
    }


def write_chart(runs: Sequence[DrillRun], path: Path) -> Path:
    """Queue depth over time, one panel per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, result in zip(axes[0], runs, strict=True):
        times = [sample[0] for sample in result.samples]
        axis.plot(times, [s[1] for s in result.samples], label="queue: visible")
        axis.plot(times, [s[2] for s in result.samples], label="queue: in flight")
        axis.plot(times, [s[3] for s in result.samples], label="DLQ")
        axis.set_title(f"{result.variant} configuration ({'drained' if result.drained else 'not drained'})")
        axis.set_xlabel("seconds since workers started")
        axis.set_ylabel("messages")
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
