"""Judge the incident plan's 1-hour, 6-hour and 24-hour windows after a rollout from CloudWatch history.

A window is judged once it has elapsed; before that each of its lines is PENDING (with when it will be
judged, and the figure so far), never FAIL: the plan expects a backlog 30 minutes after a rollout. A
metric nobody published is NO DATA and says which. The worker publishes a counter only when it counted
something (worker/metrics.py), so while any of its counters has datapoints in a window, a counter
without any counted zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from audit import rollout_criteria as plan
from audit.metric_history import History
from audit.rollout_criteria import Verdict, Window
from worker import contract
from worker import success_criteria as current
from worker.success_criteria import CheckResult

WORKER_COUNTERS = (
    contract.PROCESSED,
    contract.FAILED,
    contract.DELETE_FAILED,
    contract.DEAD_LETTERED,
    contract.RELEASED,
)


@dataclass(frozen=True)
class Line:
    window: str
    name: str
    verdict: Verdict
    detail: str
    due: datetime

    def as_json(self) -> dict[str, str]:
        return {
            "window": self.window,
            "name": self.name,
            "verdict": self.verdict.value,
            "detail": self.detail,
            "due": stamp(self.due),
        }


@dataclass(frozen=True)
class Scope:
    """What one line is judged on: the history between the rollout and `end` (the window's end, or now)."""

    history: History
    start: datetime
    end: datetime
    work_queue: str
    dead_letter_queue: str | None
    group_name: str | None
    function_name: str | None

    def total(self, key: str) -> float | None:
        """A count's sum over the periods from the first that starts at or after the rollout (nothing
        counted before the rollout is the rollout's) to the window's end."""
        values = self.history[key].between(self.start, self.end)
        return sum(values) if values else None

    def worker_published(self) -> bool:
        return any(self.history[name].between(self.start, self.end) for name in WORKER_COUNTERS)

    def counter(self, name: str) -> float | None:
        """A worker counter's sum; 0 when absent while the worker published others; None otherwise."""
        value = self.total(name)
        if value is None and self.worker_published():
            return 0.0
        return value

    def at_end(self, key: str) -> float | None:
        return self.history[key].at(self.end)


Judged = tuple[Verdict, str]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _n(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def depth_reduced(scope: Scope) -> Judged:
    before, after = scope.history["visible"].at(scope.start), scope.at_end("visible")
    if before is None or after is None:
        when = "at the rollout" if before is None else "at the window's end"
        return Verdict.NO_DATA, f"no ApproximateNumberOfMessagesVisible for {scope.work_queue} {when}"
    if before == 0:
        verdict = Verdict.PASS if after == 0 else Verdict.FAIL
        return verdict, f"{_n(before)} at the rollout -> {_n(after)}: no backlog to reduce"
    change = 100.0 * (after - before) / before
    verdict = Verdict.PASS if -change > plan.DEPTH_REDUCED_MORE_THAN_PERCENT else Verdict.FAIL
    return verdict, f"{_n(before)} at the rollout -> {_n(after)} ({change:+.1f} %)"


def reappearing(scope: Scope) -> Judged:
    received = scope.total("received")
    if received is None:
        return Verdict.NO_DATA, f"no NumberOfMessagesReceived for {scope.work_queue}"
    deleted = scope.total("deleted") or 0.0
    released = scope.counter(contract.RELEASED) or 0.0
    in_flight = scope.at_end("in_flight") or 0.0
    unaccounted = max(0.0, received - deleted - released - in_flight)
    tolerance = received * plan.REAPPEARING_TOLERANCE_PERCENT / 100
    verdict = Verdict.PASS if unaccounted <= tolerance else Verdict.FAIL
    figures = (
        f"received {_n(received)}, deleted {_n(deleted)}, released {_n(released)}, in flight {_n(in_flight)}"
    )
    if verdict is Verdict.FAIL:
        return (
            verdict,
            f"{_n(unaccounted)} receives without a delete or release: messages reappear ({figures})",
        )
    return verdict, f"{_n(unaccounted)} unaccounted receives, tolerance {_n(tolerance)} ({figures})"


def dlq_stable(scope: Scope) -> Judged:
    if not scope.dead_letter_queue:
        return Verdict.NO_DATA, "the stack declares no DLQ"
    series = scope.history["dlq_visible"]
    middle = scope.start + (scope.end - scope.start) / 2
    first, half, last = series.at(scope.start), series.at(middle), series.at(scope.end)
    if first is None or half is None or last is None:
        return Verdict.NO_DATA, f"no ApproximateNumberOfMessagesVisible for {scope.dead_letter_queue}"
    early, late = half - first, last - half
    verdict = Verdict.PASS if late <= max(early, 0) + plan.DLQ_STABLE_ALLOWANCE_MESSAGES else Verdict.FAIL
    return (
        verdict,
        f"{_n(first)} -> {_n(half)} -> {_n(last)} (first half {early:+,.0f}, second half {late:+,.0f})",
    )


def workers_healthy(scope: Scope) -> Judged:
    if scope.function_name:
        throttles = scope.total("lambda_throttles")
        if throttles is None:
            return Verdict.NO_DATA, f"no AWS/Lambda Throttles for {scope.function_name}"
        verdict = Verdict.PASS if throttles == 0 else Verdict.FAIL
        return verdict, f"{scope.function_name}: {_n(throttles)} throttled invocation(s)"
    if not scope.group_name:
        return Verdict.NO_DATA, "the stack declares no Auto Scaling group"
    in_service, desired = scope.at_end("in_service"), scope.at_end("desired")
    if in_service is None or desired is None:
        return Verdict.NO_DATA, (
            f"no GroupInServiceInstances/GroupDesiredCapacity for {scope.group_name} (group metrics not enabled?)"
        )
    verdict = Verdict.PASS if in_service >= desired else Verdict.FAIL
    return verdict, f"{_n(in_service)} in service of {_n(desired)} desired"


def no_delete_failures(scope: Scope) -> Judged:
    failed = scope.counter(contract.DELETE_FAILED)
    if failed is None:
        return Verdict.NO_DATA, "no worker metrics in the window"
    verdict = Verdict.PASS if failed <= plan.NO_DELETE_FAILURES else Verdict.FAIL
    return verdict, f"MessageDeleteFailed = {_n(failed)}"


def depth_below(limit: int) -> Callable[[Scope], Judged]:
    def judge(scope: Scope) -> Judged:
        depth = scope.at_end("visible")
        if depth is None:
            return Verdict.NO_DATA, f"no ApproximateNumberOfMessagesVisible for {scope.work_queue}"
        return (Verdict.PASS if depth < limit else Verdict.FAIL), f"{_n(depth)} visible"

    return judge


def throughput(scope: Scope) -> Judged:
    processed = scope.total(contract.PROCESSED)
    if processed is None:
        return Verdict.NO_DATA, "no MessagesProcessed from the worker"
    hours = (scope.end - scope.start) / timedelta(hours=1)
    rate = processed / hours if hours else 0.0
    verdict = Verdict.PASS if rate > plan.THROUGHPUT_ABOVE_FILES_PER_HOUR else Verdict.FAIL
    return verdict, f"{rate:,.0f} files/hour ({_n(processed)} in {hours:.1f} h)"


def success_rate(scope: Scope) -> Judged:
    processed, failed = scope.counter(contract.PROCESSED), scope.counter(contract.FAILED)
    if processed is None and failed is None:
        return Verdict.NO_DATA, "no MessagesProcessed or MessageProcessingFailed from the worker"
    total = (processed or 0) + (failed or 0)
    if total == 0:
        return Verdict.NO_DATA, "no file processed"
    rate = 100.0 * (processed or 0) / total
    verdict = Verdict.PASS if rate >= plan.SUCCESS_RATE_AT_LEAST_PERCENT else Verdict.FAIL
    return verdict, f"{rate:.1f} % ({_n(processed or 0)} processed, {_n(failed or 0)} failed)"


def no_crashes(scope: Scope) -> Judged:
    if scope.function_name:
        errors = scope.total("lambda_errors")
        if errors is None:
            return Verdict.NO_DATA, f"no AWS/Lambda Errors for {scope.function_name}"
        verdict = Verdict.PASS if errors <= plan.NO_WORKER_CRASHES else Verdict.FAIL
        return verdict, f"{scope.function_name}: {_n(errors)} invocation error(s)"
    crashed = scope.total(contract.WORKER_CRASHED)
    if crashed is None:
        return Verdict.NO_DATA, (
            f"no {contract.WORKER_CRASHED} from the worker (published at each start-up, docs/audit.md)"
        )
    verdict = Verdict.PASS if crashed <= plan.NO_WORKER_CRASHES else Verdict.FAIL
    return verdict, f"{_n(crashed)} restarts after a crash"


def steady_depth(scope: Scope) -> Judged:
    depths = scope.history["visible"].between(scope.end - plan.STEADY_STATE, scope.end)
    if not depths:
        return (
            Verdict.NO_DATA,
            f"no ApproximateNumberOfMessagesVisible for {scope.work_queue} in the last hour",
        )
    highest = max(depths)
    verdict = Verdict.PASS if highest < plan.DEPTH_BELOW_AT_TWENTY_FOUR_HOURS else Verdict.FAIL
    return verdict, f"at most {_n(highest)} visible in the last hour"


def dlq_cleared(scope: Scope) -> Judged:
    """The dead letters the rollout found are gone by +24 h: the DLQ holds no more than the worker
    dead-lettered since the rollout (new dead letters are named, and listed by reason in report.md)."""
    if not scope.dead_letter_queue:
        return Verdict.NO_DATA, "the stack declares no DLQ"
    depth = scope.at_end("dlq_visible")
    if depth is None:
        return Verdict.NO_DATA, f"no ApproximateNumberOfMessagesVisible for {scope.dead_letter_queue}"
    since_rollout = scope.counter(contract.DEAD_LETTERED) or 0.0
    left = depth - since_rollout
    verdict = Verdict.PASS if left <= plan.DLQ_CLEARED_MAX_MESSAGES else Verdict.FAIL
    figures = f"{_n(depth)} message(s) in {scope.dead_letter_queue}, {_n(since_rollout)} dead-lettered since the rollout"
    if verdict is Verdict.FAIL:
        return verdict, f"{figures}: dead letters from before the rollout remain (python -m dlq summary)"
    return verdict, figures


def uploads_working(scope: Scope) -> Judged:
    sent = scope.total("sent")
    if sent is None:
        return Verdict.NO_DATA, f"no NumberOfMessagesSent for {scope.work_queue}"
    verdict = Verdict.PASS if sent >= plan.UPLOADS_WORKING_MIN_MESSAGES_SENT else Verdict.FAIL
    return verdict, f"{_n(sent)} notifications queued"


def indexing_lag(scope: Scope) -> Judged:
    since = scope.end - plan.STEADY_STATE
    ages = scope.history["oldest_age"].between(since, scope.end)
    if not ages:
        depths = scope.history["visible"].between(since, scope.end)
        if depths and max(depths) == 0:
            return Verdict.PASS, "no message waited in the last hour (SQS reports no age for an empty queue)"
        return Verdict.NO_DATA, f"no ApproximateAgeOfOldestMessage for {scope.work_queue} in the last hour"
    oldest = max(ages)
    verdict = Verdict.PASS if oldest < plan.INDEXING_LAG_BELOW_SECONDS else Verdict.FAIL
    return verdict, f"oldest message at most {_n(oldest)} s in the last hour"


PLAN: tuple[tuple[Window, str, Callable[[Scope], Judged]], ...] = (
    (
        plan.ONE_HOUR,
        f"queue depth reduced by more than {plan.DEPTH_REDUCED_MORE_THAN_PERCENT:g} %",
        depth_reduced,
    ),
    (plan.ONE_HOUR, "no messages reappearing", reappearing),
    (plan.ONE_HOUR, "DLQ stable (not growing exponentially)", dlq_stable),
    (plan.ONE_HOUR, "all workers healthy", workers_healthy),
    (plan.ONE_HOUR, "no MessageDeleteFailed", no_delete_failures),
    (
        plan.SIX_HOURS,
        f"queue depth < {plan.DEPTH_BELOW_AT_SIX_HOURS}",
        depth_below(plan.DEPTH_BELOW_AT_SIX_HOURS),
    ),
    (plan.SIX_HOURS, f"throughput > {plan.THROUGHPUT_ABOVE_FILES_PER_HOUR} files/hour", throughput),
    (plan.SIX_HOURS, f"success rate >= {plan.SUCCESS_RATE_AT_LEAST_PERCENT:g} %", success_rate),
    (plan.SIX_HOURS, "no worker crashes", no_crashes),
    (
        plan.TWENTY_FOUR_HOURS,
        f"queue depth < {plan.DEPTH_BELOW_AT_TWENTY_FOUR_HOURS} (steady state)",
        steady_depth,
    ),
    (plan.TWENTY_FOUR_HOURS, "DLQ reviewed and cleared", dlq_cleared),
    (plan.TWENTY_FOUR_HOURS, "no infinite-loop incidents", reappearing),
    (plan.TWENTY_FOUR_HOURS, "uploads working", uploads_working),
    (
        plan.TWENTY_FOUR_HOURS,
        f"indexing lag < {plan.INDEXING_LAG_BELOW_SECONDS // 60} min",
        indexing_lag,
    ),
)
"""Every line of the plan: its window, its name (the plan's words) and how it is judged."""


def judge_windows(
    history: History,
    rollout: datetime,
    now: datetime,
    work_queue: str,
    dead_letter_queue: str | None,
    group_name: str | None,
    function_name: str | None,
) -> list[Line]:
    """Every line of the plan: judged on its window when elapsed, else PENDING with the figure so far."""
    lines = []
    for window, name, judge in PLAN:
        due = rollout + window.length
        scope = Scope(
            history, rollout, min(due, now), work_queue, dead_letter_queue, group_name, function_name
        )
        verdict, detail = judge(scope)
        if now < due:
            detail = f"judged at {stamp(due)} (in {_duration(due - now)}); so far: {detail}"
            verdict = Verdict.PENDING
        lines.append(Line(window.name, name, verdict, detail, due))
    return lines


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def window_of_current_check(name: str) -> Window:
    """The plan's window that owns one of the audit's current-state checks (audit/baseline.py); the
    consumer checks (workers in service, function consumes the queue) belong to "all workers healthy"."""
    owners = {
        current.dead_letter_queue_empty(None, None).name: plan.TWENTY_FOUR_HOURS,
        current.no_delete_failures(None).name: plan.ONE_HOUR,
        current.success_rate(None, None, None).name: plan.SIX_HOURS,
        current.indexing_lag(None, None).name: plan.TWENTY_FOUR_HOURS,
        current.workers_in_service(None, None).name: plan.ONE_HOUR,
    }
    return owners.get(name, plan.ONE_HOUR)


def pending_until_due(
    checks: list[CheckResult], rollout: datetime, now: datetime
) -> list[CheckResult | Line]:
    """The audit's current-state checks with --since: a check whose window has not elapsed is PENDING."""
    result: list[CheckResult | Line] = []
    for check in checks:
        window = window_of_current_check(check.name)
        due = rollout + window.length
        if now < due:
            detail = f"judged at {stamp(due)} ({window.name} window, in {_duration(due - now)}); now: {check.detail}"
            result.append(Line(window.name, check.name, Verdict.PENDING, detail, due))
        else:
            result.append(check)
    return result
