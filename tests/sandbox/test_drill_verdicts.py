"""The drill's verdicts on made-up facts: a clean run passes, each kind of incident damage fails the
check that names it, and missing data is NO DATA (never a pass) or a failure when messages wait."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sandbox.drill_files import DEAD_LETTERED, GONE, INDEXED, DrillFile
from sandbox.drill_report import as_json, text_report
from sandbox.drill_verdicts import (
    DLQ_STABLE,
    NO_REAPPEARANCE,
    QUEUE_DRAINED,
    DeadLetter,
    DrillFacts,
    DrillRun,
    judge,
    passed,
)
from worker import contract, success_criteria
from worker.success_criteria import Verdict

FILES = [
    DrillFile("in/a.txt", b"a", "text/plain", INDEXED),
    DrillFile("in/b.pdf", b"b", "application/pdf", INDEXED),
    DrillFile("in/poison.pdf", b"x", "application/pdf", DEAD_LETTERED),
    DrillFile("in/gone.txt", b"g", "text/plain", GONE),
] + [DrillFile(f"in/burst {n}.txt", b"n", "text/plain", INDEXED) for n in range(40)]
INDEXED_KEYS = [f.key for f in FILES if f.expected == INDEXED]


def clean_facts(**changes) -> DrillFacts:
    facts = DrillFacts(
        queue_left={"visible": 0, "in_flight": 0},
        max_receives_of_messages_left=0,
        index_writes={f.key: (1 if f.expected == INDEXED else 0) for f in FILES},
        dead_lettered=[DeadLetter("in/poison.pdf", "not a readable PDF", redriven=False)],
        metrics={
            contract.PROCESSED: float(len(INDEXED_KEYS)),
            contract.FAILED: 1.0,
            contract.DEAD_LETTERED: 1.0,
            contract.DELETE_FAILED: None,  # the worker publishes only what it counted
        },
        max_indexing_lag_seconds=4.5,
        messages_handled=len(FILES),
        messages_deleted=len(FILES),
        max_receive_count_seen=1,
        max_receive_count=3,
    )
    return replace(facts, **changes)


def verdicts(facts: DrillFacts, drained: bool = True, seconds: float = 20.0) -> dict[str, Verdict]:
    return {check.name: check.verdict for check in judge(facts, FILES, drained, seconds)}


def test_a_clean_run_passes_every_check():
    checks = judge(clean_facts(), FILES, drained=True, seconds=20.0)
    assert [check.verdict for check in checks] == [Verdict.PASS] * 7
    assert passed(checks)
    assert DrillRun(
        "fixed", len(FILES), 2, drained=True, seconds=20.0, facts=clean_facts(), checks=checks
    ).passed


def test_thresholds_come_from_the_shared_success_criteria():
    names = set(verdicts(clean_facts()))
    assert f"success rate >= {success_criteria.SUCCESS_RATE_FLOOR_PERCENT:g} %" in names
    assert f"indexing lag < {success_criteria.LAG_LIMIT_SECONDS // 60} min" in names
    assert f"throughput > {success_criteria.THROUGHPUT_FLOOR_PER_HOUR} files/hour" in names


def test_a_queue_that_did_not_drain_fails_depth_and_throughput():
    facts = clean_facts(queue_left={"visible": 12, "in_flight": 3})
    result = verdicts(facts, drained=False)
    assert result[QUEUE_DRAINED] is Verdict.FAIL
    assert result[f"throughput > {success_criteria.THROUGHPUT_FLOOR_PER_HOUR} files/hour"] is Verdict.FAIL


def test_a_file_indexed_twice_is_a_reappearance():
    writes = clean_facts().index_writes | {"in/a.txt": 2}
    check = next(
        c for c in judge(clean_facts(index_writes=writes), FILES, True, 20.0) if c.name == NO_REAPPEARANCE
    )
    assert check.verdict is Verdict.FAIL
    assert "'in/a.txt': 2" in check.detail


def test_messages_received_again_or_redriven_are_reappearances():
    assert verdicts(clean_facts(max_receives_of_messages_left=2))[NO_REAPPEARANCE] is Verdict.FAIL
    redriven = [DeadLetter("in/a.txt", "redriven by SQS after maxReceiveCount receives", redriven=True)]
    result = verdicts(clean_facts(dead_lettered=clean_facts().dead_lettered + redriven))
    assert result[NO_REAPPEARANCE] is Verdict.FAIL
    assert result[DLQ_STABLE] is Verdict.FAIL


def test_a_document_for_a_deleted_upload_is_not_expected():
    writes = clean_facts().index_writes | {"in/gone.txt": 1}
    assert verdicts(clean_facts(index_writes=writes))[NO_REAPPEARANCE] is Verdict.FAIL


def test_the_dlq_must_hold_exactly_the_poison_files():
    assert verdicts(clean_facts(dead_lettered=[]))[DLQ_STABLE] is Verdict.FAIL
    extra = clean_facts().dead_lettered + [DeadLetter("in/b.pdf", "boom", redriven=False)]
    assert verdicts(clean_facts(dead_lettered=extra))[DLQ_STABLE] is Verdict.FAIL


@pytest.mark.parametrize(
    ("processed", "failed", "backlog", "expected"),
    [
        (100.0, 4.0, 0, Verdict.PASS),  # 96.2 %
        (100.0, 6.0, 0, Verdict.FAIL),  # 94.3 %
        (None, None, 0, Verdict.NO_DATA),  # nothing happened, nothing waits
        (None, None, 5, Verdict.FAIL),  # nothing processed while messages wait
    ],
)
def test_success_rate(processed, failed, backlog, expected):
    metrics = {
        contract.PROCESSED: processed,
        contract.FAILED: failed,
        contract.DEAD_LETTERED: None,
        contract.DELETE_FAILED: None,
    }
    facts = clean_facts(metrics=metrics, queue_left={"visible": backlog, "in_flight": 0})
    name = f"success rate >= {success_criteria.SUCCESS_RATE_FLOOR_PERCENT:g} %"
    assert verdicts(facts, drained=backlog == 0)[name] is expected


def test_delete_failures_fail_and_no_metrics_at_all_is_no_data():
    with_failures = clean_facts().metrics | {contract.DELETE_FAILED: 2.0}
    assert verdicts(clean_facts(metrics=with_failures))["no MessageDeleteFailed"] is Verdict.FAIL
    silent = dict.fromkeys(clean_facts().metrics)
    assert verdicts(clean_facts(metrics=silent))["no MessageDeleteFailed"] is Verdict.NO_DATA


def test_indexing_lag_at_the_limit_fails_and_no_lag_with_a_backlog_fails():
    name = f"indexing lag < {success_criteria.LAG_LIMIT_SECONDS // 60} min"
    assert (
        verdicts(clean_facts(max_indexing_lag_seconds=success_criteria.LAG_LIMIT_SECONDS))[name]
        is Verdict.FAIL
    )
    assert verdicts(clean_facts(max_indexing_lag_seconds=None))[name] is Verdict.NO_DATA
    waiting = clean_facts(max_indexing_lag_seconds=None, queue_left={"visible": 3, "in_flight": 0})
    assert verdicts(waiting, drained=False)[name] is Verdict.FAIL


def test_files_never_indexed_fail_the_lag_even_when_the_indexed_ones_were_fast():
    name = f"indexing lag < {success_criteria.LAG_LIMIT_SECONDS // 60} min"
    writes = clean_facts().index_writes | {"in/burst 7.txt": 0}
    check = next(c for c in judge(clean_facts(index_writes=writes), FILES, False, 12.0) if c.name == name)
    assert check.verdict is Verdict.FAIL and "1 file(s) not indexed after 12.0 s" in check.detail


def test_slow_runs_fall_under_the_throughput_floor():
    name = f"throughput > {success_criteria.THROUGHPUT_FLOOR_PER_HOUR} files/hour"
    hours_for_all = len(INDEXED_KEYS) / success_criteria.THROUGHPUT_FLOOR_PER_HOUR
    assert verdicts(clean_facts(), seconds=hours_for_all * 3600 * 1.1)[name] is Verdict.FAIL
    assert verdicts(clean_facts(), seconds=hours_for_all * 3600 * 0.9)[name] is Verdict.PASS
    nothing = dict.fromkeys(clean_facts().index_writes, 0)
    assert verdicts(clean_facts(index_writes=nothing))[name] is Verdict.NO_DATA


def test_no_data_is_not_a_pass():
    silent = dict.fromkeys(clean_facts().metrics)
    checks = judge(clean_facts(metrics=silent), FILES, True, 20.0)
    assert Verdict.NO_DATA in {check.verdict for check in checks}
    assert not passed(checks)
    assert not passed([])


def test_report_marks_the_incident_failures_as_expected():
    fixed = DrillRun("fixed", len(FILES), 2, True, 20.0, facts=clean_facts())
    fixed.checks = judge(fixed.facts, FILES, True, 20.0)
    broken = clean_facts(queue_left={"visible": 9, "in_flight": 0}, max_receive_count=None, dead_lettered=[])
    incident = DrillRun("incident", len(FILES), 2, False, 12.0, facts=broken)
    incident.checks = judge(broken, FILES, False, 12.0)
    incident.notes.append("a line from a later step")
    report = text_report([fixed, incident])
    assert f"[PASS] {QUEUE_DRAINED}" in report
    assert f"[FAIL, as expected] {QUEUE_DRAINED}" in report
    assert "a line from a later step" in report
    assert "== side by side ==" in report and "no DLQ" in report


def test_json_report_carries_verdicts_facts_and_pass():
    run = DrillRun("fixed", len(FILES), 2, True, 20.0, facts=clean_facts())
    run.checks = judge(run.facts, FILES, True, 20.0)
    document = json.loads(json.dumps(as_json([run], Path("build/drill/drill.png"), Path("build/drill/logs"))))
    (shown,) = document["runs"]
    assert shown["passed"] is True
    assert {check["verdict"] for check in shown["checks"]} == {"PASS"}
    assert shown["facts"]["dead_lettered"] == [
        {"key": "in/poison.pdf", "reason": "not a readable PDF", "redriven": False}
    ]
    assert document["chart"] == "build/drill/drill.png"
