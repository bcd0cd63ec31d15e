"""The rollout windows' rules on hand-made 5-minute series, and WHEN as the operator types it (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.metric_history import History, Series
from audit.rollout import SinceError, join_relative_since, parse_since
from audit.rollout_criteria import PERIOD, Verdict
from audit.rollout_windows import judge_windows
from worker import contract

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ROLLOUT = NOW - timedelta(hours=25)


def series(key: str, value_at) -> Series:
    """One point per 5-minute period from the rollout's period to now; `value_at(minutes since rollout)`."""
    points, at = [], ROLLOUT - PERIOD
    while at <= NOW:
        value = value_at((at - ROLLOUT) / timedelta(minutes=1))
        if value is not None:
            points.append((at, float(value)))
        at += PERIOD
    return Series(key, tuple(points))


def verdicts(history: History, function_name: str | None = None) -> dict[str, tuple[str, str]]:
    lines = judge_windows(history, ROLLOUT, NOW, "work", "dead", "group", function_name)
    return {f"{line.window}: {line.name}": (line.verdict.value, line.detail) for line in lines}


def test_a_dlq_whose_growth_accelerates_is_not_stable():
    history = History({"dlq_visible": series("dlq_visible", lambda m: 2 ** max(0, m / 6))})
    verdict, detail = verdicts(history)["1 hour: DLQ stable (not growing exponentially)"]
    assert verdict == "FAIL", detail


def test_a_dlq_growing_steadily_is_stable():
    history = History({"dlq_visible": series("dlq_visible", lambda m: max(0, m) / 5)})
    assert verdicts(history)["1 hour: DLQ stable (not growing exponentially)"][0] == "PASS"


def test_an_empty_queue_has_no_lag_though_sqs_reports_no_age():
    history = History({"visible": series("visible", lambda m: 0)})
    assert verdicts(history)["24 hours: indexing lag < 5 min"] == (
        "PASS",
        "no message waited in the last hour (SQS reports no age for an empty queue)",
    )


def test_lag_over_five_minutes_in_the_last_hour_fails():
    history = History(
        {
            "visible": series("visible", lambda m: 5),
            "oldest_age": series("oldest_age", lambda m: 420 if m > 23.5 * 60 else 30),
        }
    )
    assert verdicts(history)["24 hours: indexing lag < 5 min"] == (
        "FAIL",
        "oldest message at most 420 s in the last hour",
    )


def test_lambda_mode_counts_function_errors_as_crashes_and_throttles_as_unhealthy():
    history = History(
        {
            "lambda_errors": series("lambda_errors", lambda m: 1 if 100 < m < 110 else 0),
            "lambda_throttles": series("lambda_throttles", lambda m: 0),
        }
    )
    judged = verdicts(history, function_name="indexer")
    assert judged["6 hours: no worker crashes"] == ("FAIL", "indexer: 1 invocation error(s)")
    assert judged["1 hour: all workers healthy"] == ("PASS", "indexer: 0 throttled invocation(s)")


def test_a_counter_the_worker_did_not_publish_is_zero_only_while_it_published_others():
    published = History({contract.PROCESSED: series(contract.PROCESSED, lambda m: 50)})
    assert verdicts(published)["1 hour: no MessageDeleteFailed"] == ("PASS", "MessageDeleteFailed = 0")
    assert verdicts(History())["1 hour: no MessageDeleteFailed"] == (
        "NO DATA",
        "no worker metrics in the window",
    )


def test_nothing_counted_before_the_rollout_is_the_rollouts():
    history = History(
        {contract.DELETE_FAILED: series(contract.DELETE_FAILED, lambda m: 20 if m < 0 else None)}
    )
    assert verdicts(history)["1 hour: no MessageDeleteFailed"][0] == "NO DATA"


def test_a_window_not_yet_elapsed_is_pending_with_the_figure_so_far():
    lines = judge_windows(
        History({"visible": series("visible", lambda m: 900)}),
        NOW - timedelta(minutes=40),
        NOW,
        "work",
        None,
        None,
        None,
    )
    depth = next(line for line in lines if line.name == "queue depth < 100")
    assert depth.verdict is Verdict.PENDING
    assert depth.detail == "judged at 2026-12-07T17:20:00Z (in 5 h 20 min); so far: 900 visible"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T08:30:00Z", datetime(2026, 12, 7, 8, 30, tzinfo=UTC)),
        ("2026-12-07T17:30:00+09:00", datetime(2026, 12, 7, 8, 30, tzinfo=UTC)),
        ("-90m", NOW - timedelta(minutes=90)),
        ("-6h", NOW - timedelta(hours=6)),
        ("-1d", NOW - timedelta(days=1)),
    ],
)
def test_when_is_iso_with_a_zone_or_relative(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("08:30", "is not a time"),
        ("2026-12-07T08:30:00", "has no time zone"),
        ("2026-12-08T08:30:00Z", "is in the future"),
        ("2026-10-01T00:00:00Z", "is more than 15 days ago"),
    ],
)
def test_a_when_that_cannot_be_judged_is_refused(text, message):
    with pytest.raises(SinceError, match=message):
        parse_since(text, NOW)


def test_since_takes_a_relative_value_that_starts_with_a_minus():
    assert join_relative_since(["--since", "-6h", "--json"]) == ["--since=-6h", "--json"]
    assert join_relative_since(["--since", "2026-12-07T08:30:00Z"]) == ["--since", "2026-12-07T08:30:00Z"]


def test_the_dlq_is_cleared_when_only_dead_letters_from_after_the_rollout_remain():
    new_only = History(
        {
            "dlq_visible": series("dlq_visible", lambda m: 0 if m < 0 else m // 60 * 3),
            contract.DEAD_LETTERED: series(
                contract.DEAD_LETTERED, lambda m: 3 if m >= 0 and m % 60 == 0 else None
            ),
        }
    )
    assert verdicts(new_only)["24 hours: DLQ reviewed and cleared"][0] == "PASS"
    never_cleared = History(
        {
            "dlq_visible": series("dlq_visible", lambda m: 40),
            contract.PROCESSED: series(contract.PROCESSED, lambda m: 50),
        }
    )
    assert verdicts(never_cleared)["24 hours: DLQ reviewed and cleared"] == (
        "FAIL",
        "40 message(s) in dead, 0 dead-lettered since the rollout: dead letters from before the rollout remain "
        "(python -m dlq summary)",
    )
