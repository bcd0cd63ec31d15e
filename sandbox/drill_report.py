"""The drill's report: the text a person reads, one JSON object for tools, and the queue-depth chart.

Runs are shown one after the other, then side by side (fixed ec2, fixed lambda, incident: whichever
ran). A lambda run is labelled "(emulated)": its consumer is the real handler under an emulated event
source mapping (sandbox/lambda_emulator.py), since moto cannot run Lambda without Docker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sandbox.drill_verdicts import DrillFacts, DrillRun
from worker import contract
from worker.success_criteria import Verdict


def text_report(runs: Sequence[DrillRun]) -> str:
    lines: list[str] = []
    for result in runs:
        lines += _run_lines(result)
    if len(runs) >= 2 and all(result.facts for result in runs):
        lines += _side_by_side(runs)
    return "\n".join(lines)


def _run_lines(result: DrillRun) -> list[str]:
    if result.compute == "lambda":
        consumer = "worker/lambda_handler.py under an EMULATED event source mapping (moto cannot run Lambda)"
    else:
        consumer = f"{result.workers} workers"
    lines = [f"== {result.label} configuration: {result.uploads} uploads, {consumer} =="]
    facts = result.facts
    if facts is None:
        return [*lines, "   (no facts: the run stopped before it could read them)", *result.notes]
    for key, values in facts.scaled.items():
        lines.append(f"   scaled: {key} {values['declared']:g} s -> {values['drill']:g} s")
    lines.append(f"   drained: {'yes' if result.drained else 'no'} after {result.seconds:.1f} s")
    lines.append(
        f"   messages received and handled by the consumer: {facts.messages_handled}, deleted: {facts.messages_deleted}"
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


def _side_by_side(runs: Sequence[DrillRun]) -> list[str]:
    facts: list[DrillFacts] = [result.facts for result in runs]  # type: ignore[misc]
    rows: list[tuple[str, list[Any]]] = [
        ("queue drained", ["yes" if r.drained else "no" for r in runs]),
        ("seconds to drain (or stopped)", [f"{r.seconds:.1f}" for r in runs]),
        ("max receive count seen", [f.max_receive_count_seen for f in facts]),
        ("messages handled", [f.messages_handled for f in facts]),
        ("max index writes per file", [max(f.index_writes.values(), default=0) for f in facts]),
        ("messages left in the queue", [f.messages_left for f in facts]),
        ("in the DLQ", [len(f.dead_lettered) if f.max_receive_count else "no DLQ" for f in facts]),
        ("MessagesProcessed (CloudWatch)", [_metric(f, contract.PROCESSED) for f in facts]),
        ("MessageProcessingFailed (CloudWatch)", [_metric(f, contract.FAILED) for f in facts]),
        ("checks passed", [f"{sum(c.passed for c in r.checks)}/{len(r.checks)}" for r in runs]),
    ]
    width = max(14, *(len(r.label) for r in runs))
    lines = ["== side by side ==", f"   {'':38}" + "".join(f" {r.label:>{width}}" for r in runs)]
    lines += [
        f"   {label:38}" + "".join(f" {value!s:>{width}}" for value in values) for label, values in rows
    ]
    if any(r.compute == "lambda" for r in runs):
        lines.append(
            "   (the lambda run is emulated: see sandbox/lambda_emulator.py for what is and is not reproduced)"
        )
    return lines


def _metric(facts: DrillFacts, name: str) -> str:
    value = facts.metrics.get(name)
    return "no data" if value is None else f"{value:g}"


def as_json(runs: Sequence[DrillRun], chart: Path | None, logs: Path) -> dict[str, Any]:
    return {
        "runs": [
            asdict(result)
            | {"passed": result.passed, "label": result.label, "emulated": result.compute == "lambda"}
            for result in runs
        ],
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
        axis.set_title(f"{result.label} ({'drained' if result.drained else 'not drained'})")
        axis.set_xlabel("seconds since workers started")
        axis.set_ylabel("messages")
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
