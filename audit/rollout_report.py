"""`--report DIR`: the incident plan's post-deployment report (report.md) and its chart (depth.png).

The report holds the windows and their verdicts, the baseline at the rollout, the DLQ by reason (from
`python -m dlq summary --json`, run as the operator would: the audit does not import the DLQ tools)
and what is still pending. The chart shows work-queue depth, DLQ depth and in-flight messages from the
rollout to now with each window's end marked, because people would rather look at the curve.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from audit.rollout import Rollout
from audit.rollout_criteria import PERIOD, WINDOWS, Verdict
from audit.rollout_windows import stamp

DLQ_SUMMARY_TIMEOUT_SECONDS = 60
CURVES = (
    ("visible", "work queue visible", "tab:blue"),
    ("in_flight", "work queue in flight", "tab:orange"),
    ("dlq_visible", "DLQ visible", "tab:red"),
)


def write_report(
    directory: Path, report: dict[str, Any], rollout: Rollout, dlq_url: str | None, queue_url: str | None
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    draw_depth(directory / "depth.png", rollout, report["stack"])
    dead_letters = dlq_summary(dlq_url, queue_url)
    (directory / "report.md").write_text(markdown(report, rollout, dead_letters), encoding="utf-8")


def baseline_at_rollout(rollout: Rollout) -> dict[str, float | None]:
    return {key: rollout.history[key].at(rollout.rollout) for key, _, _ in CURVES} | {
        "oldest_age": rollout.history["oldest_age"].at(rollout.rollout)
    }


def _shown(value: float | None, unit: str = "") -> str:
    return "no data" if value is None else f"{value:,.0f}{unit}"


def markdown(report: dict[str, Any], rollout: Rollout, dead_letters: dict[str, Any] | str) -> str:
    section = report["rollout"]
    counts = section["counts"]
    failed = any(
        line["verdict"] == Verdict.FAIL.value for window in section["windows"] for line in window["lines"]
    )
    lines = [
        f"# Post-deployment report: stack {report['stack']}",
        "",
        f"Rollout at {section['since']}; written at {section['now']} by `python -m audit --since`.",
        "",
        f"**{'FAILED' if failed else 'No failure so far'}**: "
        + ", ".join(f"{counts[verdict.value]} {verdict.value}" for verdict in Verdict),
        "",
        "![Queue depth since the rollout](depth.png)",
        "",
        "## Baseline at the rollout",
        "",
    ]
    base = baseline_at_rollout(rollout)
    lines += [
        f"- work queue: {_shown(base['visible'])} visible, {_shown(base['in_flight'])} in flight, "
        f"oldest message {_shown(base['oldest_age'], ' s')}",
        f"- DLQ: {_shown(base['dlq_visible'])} visible",
        "",
    ]
    for window in section["windows"]:
        state = "elapsed" if window["elapsed"] else "pending"
        lines += [
            f"## {window['name']} (until {window['ends']}, {state})",
            "",
            "| Verdict | Check | Figure |",
            "|---|---|---|",
        ]
        lines += [f"| {line['verdict']} | {line['name']} | {line['detail']} |" for line in window["lines"]]
        lines.append("")
    lines += ["## Dead-letter queue by reason", ""]
    if isinstance(dead_letters, str):
        lines.append(dead_letters)
    elif not dead_letters.get("total"):
        lines.append("The DLQ is empty.")
    else:
        lines += ["| Count | Error type | Reason |", "|---|---|---|"]
        lines += [
            f"| {group['count']} | {group['errorType']} | {group['reason']} |"
            for group in dead_letters.get("byReason", [])
        ]
    lines += ["", "## Still pending", ""]
    pending = [
        f"- {line['name']} ({window['name']}): {line['detail']}"
        for window in section["windows"]
        for line in window["lines"]
        if line["verdict"] == Verdict.PENDING.value
    ]
    lines += pending or ["Nothing: every window has elapsed."]
    return "\n".join(lines) + "\n"


def dlq_summary(dlq_url: str | None, queue_url: str | None) -> dict[str, Any] | str:
    """`python -m dlq summary --json` for the live DLQ, or one sentence saying why it is missing."""
    if not dlq_url:
        return "Not read: the DLQ was not found."
    command = [sys.executable, "-m", "dlq", "summary", "--json", "--dlq-url", dlq_url]
    if queue_url:
        command += ["--queue-url", queue_url]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=DLQ_SUMMARY_TIMEOUT_SECONDS,
            cwd=Path(__file__).resolve().parent.parent,
            env=os.environ.copy(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"Not read: `python -m dlq summary` took more than {DLQ_SUMMARY_TIMEOUT_SECONDS} s."
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"Not read: `python -m dlq summary` exited {done.returncode}: {reason}"
    return json.loads(done.stdout)


def draw_depth(path: Path, rollout: Rollout, stack: str) -> None:
    """Work-queue depth and in-flight messages above, DLQ depth below (its scale is far smaller), from
    one period before the rollout to now; each window's end is a line labelled with its verdict (red:
    a FAIL, green: none, grey dashed: not yet elapsed), and the time not yet reached is shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (queue_axes, dlq_axes) = pyplot.subplots(
        2, 1, sharex=True, figsize=(11, 6.5), dpi=100, gridspec_kw={"height_ratios": [3, 1]}
    )
    for axes, curves in ((queue_axes, CURVES[:2]), (dlq_axes, CURVES[2:])):
        for key, label, colour in curves:
            points = rollout.history[key].points
            axes.plot(
                [at for at, _ in points],
                [value for _, value in points],
                label=label if points else f"{label} (no data)",
                color=colour,
            )
        axes.set_ylim(
            bottom=0, top=max([1.0, *(v for k, _, _ in curves for _, v in rollout.history[k].points)]) * 1.15
        )
        axes.axvline(rollout.rollout, color="black", linewidth=1.5)
        axes.grid(alpha=0.3)
        axes.legend(loc="center right")
    queue_axes.annotate(
        " rollout",
        (rollout.rollout, 0.98),
        xycoords=("data", "axes fraction"),
        rotation=90,
        va="top",
        ha="left",
    )
    verdicts = {window["name"]: window for window in _window_verdicts(rollout)}
    last_end = rollout.rollout
    for window in WINDOWS:
        end = rollout.rollout + window.length
        state = verdicts[window.name]
        colour = {"FAIL": "red", "PENDING": "grey"}.get(state["worst"], "green")
        for axes in (queue_axes, dlq_axes):
            axes.axvline(
                end, color=colour, linestyle="--" if state["worst"] == "PENDING" else "-", linewidth=1.2
            )
        queue_axes.annotate(
            f"+{window.name}: {state['label']}",
            (end, 0.98),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            color=colour,
        )
        last_end = max(last_end, end)
    right = max(rollout.now, last_end)
    if rollout.now < last_end:
        for axes in (queue_axes, dlq_axes):
            axes.axvspan(rollout.now, last_end, color="grey", alpha=0.12)
        queue_axes.annotate(
            "not yet reached", (rollout.now, 0.5), xycoords=("data", "axes fraction"), color="grey"
        )
    dlq_axes.set_xlim(rollout.rollout - 2 * PERIOD, right + PERIOD)
    queue_axes.set_ylabel("messages (5-min max)")
    dlq_axes.set_ylabel("DLQ messages")
    dlq_axes.set_xlabel("UTC")
    queue_axes.set_title(f"{stack}: queue depth since the rollout at {stamp(rollout.rollout)}")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def _window_verdicts(rollout: Rollout) -> list[dict[str, str]]:
    """Each window's worst verdict, and the label its line carries (`PASS`, `2 FAIL`, `pending`)."""
    result = []
    for window in WINDOWS:
        lines = [line for line in rollout.lines if line.window == window.name]
        fails = sum(1 for line in lines if line.verdict is Verdict.FAIL)
        if any(line.verdict is Verdict.PENDING for line in lines):
            worst, label = "PENDING", "pending"
        elif fails:
            worst, label = "FAIL", f"{fails} FAIL"
        else:
            worst, label = "PASS", "no FAIL"
        result.append({"name": window.name, "worst": worst, "label": label})
    return result
