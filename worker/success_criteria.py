"""The incident plan's success criteria: thresholds, checks and their result, shared by the drill
(sandbox/) and the live audit (audit/) so both judge the fix by the same numbers.

No data is never a pass: a check that cannot be decided says NO DATA and why, and a check that needs
data to be safe (a backlog with nothing processed) fails without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SUCCESS_RATE_FLOOR_PERCENT = 95.0
"""processed / (processed + failed) must stay at or above this (the incident plan; Pulumi.yaml's
`successRatePercentThreshold` default is the same number, checked by a test)."""
LAG_LIMIT_SECONDS = 300
"""From upload to index document (or the oldest waiting message's age) under five minutes."""
THROUGHPUT_FLOOR_PER_HOUR = 100
"""Files indexed per hour the fleet must sustain in the drill."""


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO DATA"


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: Verdict
    detail: str

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL


def success_rate(processed: float | None, failed: float | None, backlog: int | None) -> CheckResult:
    """Success rate; with nothing processed it is NO DATA, or FAIL when messages are waiting."""
    name = f"success rate >= {SUCCESS_RATE_FLOOR_PERCENT:g} %"
    if processed is None and failed is None:
        verdict = Verdict.FAIL if backlog else Verdict.NO_DATA
        return CheckResult(name, verdict, _no_data("no worker metrics", backlog))
    total = (processed or 0) + (failed or 0)
    if total == 0:
        verdict = Verdict.FAIL if backlog else Verdict.NO_DATA
        return CheckResult(name, verdict, _no_data("no files processed", backlog))
    rate = 100.0 * (processed or 0) / total
    verdict = Verdict.PASS if rate >= SUCCESS_RATE_FLOOR_PERCENT else Verdict.FAIL
    return CheckResult(name, verdict, f"{rate:.1f} % ({processed or 0:g} processed, {failed or 0:g} failed)")


def indexing_lag(lag_seconds: float | None, backlog: int | None, what: str = "oldest message") -> CheckResult:
    """Lag under the limit; no measurement is NO DATA, or FAIL when messages are waiting."""
    name = f"indexing lag < {LAG_LIMIT_SECONDS // 60} min"
    if lag_seconds is None:
        verdict = Verdict.FAIL if backlog else Verdict.NO_DATA
        return CheckResult(name, verdict, _no_data(f"no {what} age", backlog))
    verdict = Verdict.PASS if lag_seconds < LAG_LIMIT_SECONDS else Verdict.FAIL
    return CheckResult(name, verdict, f"{what} {lag_seconds:g} s")


def no_delete_failures(delete_failed: float | None) -> CheckResult:
    name = "no MessageDeleteFailed"
    if delete_failed is None:
        return CheckResult(name, Verdict.NO_DATA, "no MessageDeleteFailed datapoints")
    verdict = Verdict.PASS if delete_failed == 0 else Verdict.FAIL
    return CheckResult(name, verdict, f"MessageDeleteFailed = {delete_failed:g}")


def dead_letter_queue_empty(dlq_messages: int | None, dlq_name: str | None) -> CheckResult:
    """The DLQ empty; a DLQ that cannot be read (or is gone) is a failure, not an empty queue."""
    name = "DLQ empty"
    if dlq_messages is None:
        return CheckResult(
            name, Verdict.FAIL, f"the DLQ {dlq_name or '(undeclared)'} was not found or not readable"
        )
    if dlq_messages:
        return CheckResult(name, Verdict.FAIL, f"{dlq_messages} message(s) wait in {dlq_name}")
    return CheckResult(name, Verdict.PASS, "0 messages")


def throughput(files_per_hour: float | None) -> CheckResult:
    name = f"throughput > {THROUGHPUT_FLOOR_PER_HOUR} files/hour"
    if files_per_hour is None:
        return CheckResult(name, Verdict.NO_DATA, "nothing was indexed")
    verdict = Verdict.PASS if files_per_hour > THROUGHPUT_FLOOR_PER_HOUR else Verdict.FAIL
    return CheckResult(name, verdict, f"{files_per_hour:,.0f} files/hour")


def _no_data(what: str, backlog: int | None) -> str:
    if backlog:
        return f"{what} while {backlog} message(s) wait: the backlog is not being worked"
    return f"{what} (and no backlog)"


def workers_in_service(in_service: int | None, backlog: int | None) -> CheckResult:
    """Some worker in service while messages wait; no group to read is NO DATA, or FAIL with a backlog."""
    name = "workers in service while there is a backlog"
    if in_service is None:
        verdict = Verdict.FAIL if backlog else Verdict.NO_DATA
        return CheckResult(name, verdict, _no_data("no Auto Scaling Group to read", backlog))
    if backlog and in_service == 0:
        return CheckResult(name, Verdict.FAIL, f"0 in service while {backlog} message(s) wait")
    return CheckResult(name, Verdict.PASS, f"{in_service} in service, {backlog or 0} message(s) waiting")
