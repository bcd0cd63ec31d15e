"""`python -m audit --since WHEN`: the rollout's moment, its history read once per audit, and the
windows' section of the report (text, JSON, the --watch trend line)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.metric_history import History, history_queries, read_history
from audit.rollout_criteria import PERIOD, WINDOWS, Verdict
from audit.rollout_windows import Line, judge_windows, stamp

RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)\s*(m|min|h|d)$")
UNITS = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
OLDEST_ROLLOUT = timedelta(days=15)
"""CloudWatch keeps 5-minute datapoints for 63 days, 1-minute ones for 15 days; the plan's windows end
24 h after the rollout, so an older rollout is a typo more often than a question."""


class SinceError(ValueError):
    """--since names no moment the audit can judge; the message is the one line the operator sees."""


def join_relative_since(argv: list[str]) -> list[str]:
    """`--since -6h` as `--since=-6h`: argparse would take `-6h` for an option and refuse it."""
    joined: list[str] = []
    for argument in argv:
        if joined and joined[-1] == "--since" and RELATIVE.match(argument):
            joined[-1] = f"--since={argument}"
        else:
            joined.append(argument)
    return joined


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO 8601 time with a zone (`2026-12-07T08:30:00Z`) or a relative one (`-90m`, `-6h`, `-1d`)."""
    relative = RELATIVE.match(text.strip())
    if relative:
        moment = now - float(relative.group(1)) * UNITS[relative.group(2)]
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise SinceError(
                f"--since {text!r} is not a time: use ISO 8601 with a zone (2026-12-07T08:30:00Z) or -90m, -6h, -1d"
            ) from None
        if moment.tzinfo is None:
            raise SinceError(f"--since {text!r} has no time zone: add Z or an offset (2026-12-07T08:30:00Z)")
    moment = moment.astimezone(UTC)
    if moment > now:
        raise SinceError(f"--since {stamp(moment)} is in the future (now {stamp(now)})")
    if now - moment > OLDEST_ROLLOUT:
        raise SinceError(f"--since {stamp(moment)} is more than {OLDEST_ROLLOUT.days} days ago")
    return moment


@dataclass
class Rollout:
    """One audit's view of the rollout: the history from just before it to now, and the judged lines."""

    rollout: datetime
    now: datetime
    history: History
    lines: list[Line]

    def counts(self) -> dict[str, int]:
        return {
            verdict.value: sum(1 for line in self.lines if line.verdict is verdict) for verdict in Verdict
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "since": stamp(self.rollout),
            "now": stamp(self.now),
            "windows": [
                {
                    "name": window.name,
                    "ends": stamp(self.rollout + window.length),
                    "elapsed": self.now >= self.rollout + window.length,
                    "lines": [line.as_json() for line in self.lines if line.window == window.name],
                }
                for window in WINDOWS
            ],
            "counts": self.counts(),
        }


def judge_rollout(cloudwatch: Any, declared: Any, rollout: datetime, now: datetime) -> Rollout:
    """Read the history (5-minute periods, from one period before the rollout) and judge every window."""
    queries = history_queries(
        declared.work_queue or "",
        declared.dead_letter_queue,
        declared.metric_namespace,
        declared.group_name,
        declared.function_name,
    )
    last = min(now, rollout + max(window.length for window in WINDOWS))
    history = read_history(cloudwatch, queries, rollout - PERIOD, last)
    lines = judge_windows(
        history,
        rollout,
        now,
        declared.work_queue or "",
        declared.dead_letter_queue,
        declared.group_name,
        declared.function_name,
    )
    return Rollout(rollout, now, history, lines)


def text_section(section: dict[str, Any]) -> list[str]:
    lines = [f"Rollout at {section['since']} (now {section['now']}):"]
    for window in section["windows"]:
        state = "elapsed" if window["elapsed"] else "not elapsed"
        lines.append(f"  {window['name']} (until {window['ends']}, {state}):")
        lines += [f"    [{line['verdict']}] {line['name']}: {line['detail']}" for line in window["lines"]]
    return lines


def trend_part(section: dict[str, Any]) -> str:
    """The --watch line's rollout part: each window's worst verdict."""
    order = [Verdict.FAIL.value, Verdict.PENDING.value, Verdict.NO_DATA.value, Verdict.PASS.value]
    parts = []
    for window in section["windows"]:
        verdicts = {line["verdict"] for line in window["lines"]}
        worst = next((verdict for verdict in order if verdict in verdicts), Verdict.NO_DATA.value)
        parts.append(f"{window['name'].replace(' hours', 'h').replace(' hour', 'h')} {worst}")
    return "  windows " + ", ".join(parts)
