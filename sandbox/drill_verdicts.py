"""The drill's verdicts: the incident plan's success criteria, judged from what moto held after a run.

The facts are plain values (sandbox/drill_facts.py reads them from moto), so every verdict can be
tested with made-up facts. Thresholds and the shared checks come from worker/success_criteria.py,
the module the live audit judges by too; the checks only a drill can make (each file indexed
exactly once, only the poison files dead-lettered) are here. A run passes when every check says
PASS: NO DATA is never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sandbox.drill_files import DEAD_LETTERED, INDEXED, DrillFile
from worker import contract, success_criteria
from worker.success_criteria import CheckResult, Verdict

QUEUE_DRAINED = "queue depth falls to zero"
NO_REAPPEARANCE = "no message reappears (each file indexed exactly once)"
DLQ_STABLE = "DLQ stable (only the poison files, with reasons)"


@dataclass(frozen=True)
class DeadLetter:
    key: str
    reason: str
    redriven: bool
    """True when SQS's redrive moved it (after maxReceiveCount receives), not the worker."""


@dataclass
class DrillFacts:
    """What moto held at the end of one run: the verdicts' only input."""

    queue_left: dict[str, int]
    """{"visible": n, "in_flight": n} in the work queue when the run ended."""
    max_receives_of_messages_left: int
    """How often the workers had received the messages still in the queue (SQS's own count)."""
    index_writes: dict[str, int]
    """Upload key -> versions of its index document (S3 object versions, not the worker's word)."""
    dead_lettered: list[DeadLetter]
    metrics: dict[str, float | None]
    """Worker metric -> sum of its datapoints in CloudWatch; None when there were none."""
    max_indexing_lag_seconds: float | None
    messages_handled: int
    messages_deleted: int
    max_receive_count_seen: int
    max_receive_count: int | None
    """The queue's redrive maxReceiveCount; None when it has no redrive (the incident's queue)."""
    sqs_requests: int | None = None
    scaled: dict[str, dict[str, float]] = field(default_factory=dict)
    """Setting -> {"declared": s, "drill": s}: the time values the drill ran with."""

    @property
    def messages_left(self) -> int:
        return sum(self.queue_left.values())


def judge(facts: DrillFacts, files: Sequence[DrillFile], drained: bool, seconds: float) -> list[CheckResult]:
    """The incident plan's success metrics for one run, in the order the report shows them."""
    return [
        queue_drained(facts, drained, seconds),
        no_reappearance(facts, files),
        dead_letter_queue_stable(facts, files),
        delete_failures(facts),
        success_criteria.success_rate(
            facts.metrics.get(contract.PROCESSED), facts.metrics.get(contract.FAILED), facts.messages_left
        ),
        throughput(facts, files, drained, seconds),
        indexing_lag(facts, files, seconds),
    ]


def queue_drained(facts: DrillFacts, drained: bool, seconds: float) -> CheckResult:
    verdict = Verdict.PASS if drained else Verdict.FAIL
    return CheckResult(QUEUE_DRAINED, verdict, f"left: {facts.queue_left} after {seconds:.1f} s")


def no_reappearance(facts: DrillFacts, files: Sequence[DrillFile]) -> CheckResult:
    """Each file that should be indexed was indexed once, nothing else was, nothing was redriven."""
    writes = facts.index_writes
    expected = [f.key for f in files if f.expected == INDEXED]
    not_once = {key: writes.get(key, 0) for key in expected if writes.get(key, 0) != 1}
    unexpected = [f.key for f in files if f.expected != INDEXED and writes.get(f.key, 0)]
    redriven = [entry.key for entry in facts.dead_lettered if entry.redriven]
    received_again = facts.max_receives_of_messages_left > 1
    problems = [f"{len(expected) - len(not_once)}/{len(expected)} indexed once"]
    if received_again:
        problems.append(
            f"messages left in the queue were received up to {facts.max_receives_of_messages_left} times"
        )
    if redriven:
        problems.append(f"{len(redriven)} redriven to the DLQ after maxReceiveCount receives")
    if not_once:
        problems.append(f"index writes not 1: {dict(list(not_once.items())[:3])}")
    if unexpected:
        problems.append(f"documents that should not exist: {unexpected}")
    if not expected:
        return CheckResult(NO_REAPPEARANCE, Verdict.NO_DATA, "no file was expected to be indexed")
    passed = not (not_once or unexpected or redriven or received_again)
    return CheckResult(NO_REAPPEARANCE, Verdict.PASS if passed else Verdict.FAIL, "; ".join(problems))


def dead_letter_queue_stable(facts: DrillFacts, files: Sequence[DrillFile]) -> CheckResult:
    """The DLQ holds exactly the poison files, each sent by the worker with its reason."""
    expected = sorted(f.key for f in files if f.expected == DEAD_LETTERED)
    held = sorted(entry.key for entry in facts.dead_lettered)
    without_reason = sorted(entry.key for entry in facts.dead_lettered if entry.redriven or not entry.reason)
    detail = f"DLQ holds {held}, expected {expected}"
    if without_reason:
        detail += f"; without the worker's reason: {without_reason}"
    passed = held == expected and not without_reason
    return CheckResult(DLQ_STABLE, Verdict.PASS if passed else Verdict.FAIL, detail)


def delete_failures(facts: DrillFacts) -> CheckResult:
    """No datapoint of MessageDeleteFailed counts as zero only when the workers published metrics at all."""
    value = facts.metrics.get(contract.DELETE_FAILED)
    published = any(sum_ is not None for sum_ in facts.metrics.values())
    return success_criteria.no_delete_failures(value if value is not None else (0.0 if published else None))


def throughput(facts: DrillFacts, files: Sequence[DrillFile], drained: bool, seconds: float) -> CheckResult:
    """Files indexed per hour over the run; a run that did not drain sustained nothing."""
    if not drained:
        return replace(
            success_criteria.throughput(0.0),
            detail=f"the queue did not drain within {seconds:.1f} s",
        )
    indexed = sum(1 for f in files if f.expected == INDEXED and facts.index_writes.get(f.key, 0))
    if not indexed or seconds <= 0:
        return success_criteria.throughput(None)
    return success_criteria.throughput(indexed / seconds * 3600)


def indexing_lag(facts: DrillFacts, files: Sequence[DrillFile], seconds: float) -> CheckResult:
    """The slowest upload-to-index time; a file never indexed has no lag to show, and fails the check.

    Measured in drill seconds (time values scaled down): it shows that no file waited for a
    visibility timeout or a redrive, not what production's lag would be.
    """
    check = success_criteria.indexing_lag(
        facts.max_indexing_lag_seconds, facts.messages_left, what="slowest upload to index document"
    )
    never = [f.key for f in files if f.expected == INDEXED and not facts.index_writes.get(f.key, 0)]
    if never and check.verdict is not Verdict.FAIL:
        return replace(
            check,
            verdict=Verdict.FAIL,
            detail=f"{len(never)} file(s) not indexed after {seconds:.1f} s; {check.detail}",
        )
    return check


def passed(checks: Sequence[CheckResult]) -> bool:
    return bool(checks) and all(check.verdict is Verdict.PASS for check in checks)


@dataclass
class DrillRun:
    """One run of the drill (the fixed or the incident configuration): its samples, facts and verdicts."""

    variant: str
    uploads: int
    workers: int
    drained: bool = False
    seconds: float = 0.0
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    """(seconds since the workers started, visible, in flight, in the DLQ)."""
    facts: DrillFacts | None = None
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Lines a step adds to the text report, after the verdicts."""
    compute: str = "ec2"
    """ec2 (worker processes) or lambda (the handler under the emulated event source mapping)."""

    @property
    def passed(self) -> bool:
        return passed(self.checks)

    @property
    def label(self) -> str:
        """The run's column title: "fixed ec2", "fixed lambda (emulated)", "incident ec2"."""
        return f"{self.variant} {self.compute}" + (" (emulated)" if self.compute == "lambda" else "")
