"""The incident plan's success criteria after a rollout: its three windows and every threshold, each
named after the plan's line, in one place (the rate, lag and throughput floors are the drill's own,
from worker/success_criteria.py, so both judge by the same numbers).

The plan: after 1 hour, queue depth reduced by more than 50 %, no messages reappearing, the DLQ stable
(not growing exponentially), all workers healthy, no MessageDeleteFailed; after 6 hours, depth < 100,
throughput > 100 files/hour, success rate > 95 %, no worker crashes; after 24 hours, depth < 10
(steady state), the DLQ reviewed and cleared, no infinite-loop incidents, uploads working, indexing
lag < 5 minutes. How each is measured: docs/audit.md, "Rollout verification".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from worker.success_criteria import LAG_LIMIT_SECONDS, SUCCESS_RATE_FLOOR_PERCENT, THROUGHPUT_FLOOR_PER_HOUR


class Verdict(StrEnum):
    """A rollout line's verdict: the drill's three, and PENDING for a window that has not elapsed."""

    PASS = "PASS"
    FAIL = "FAIL"
    NO_DATA = "NO DATA"
    PENDING = "PENDING"


@dataclass(frozen=True)
class Window:
    name: str
    length: timedelta


ONE_HOUR = Window("1 hour", timedelta(hours=1))
SIX_HOURS = Window("6 hours", timedelta(hours=6))
TWENTY_FOUR_HOURS = Window("24 hours", timedelta(hours=24))
WINDOWS = (ONE_HOUR, SIX_HOURS, TWENTY_FOUR_HOURS)
"""Each window runs from the rollout to rollout + its length, and is judged once it has elapsed."""

PERIOD = timedelta(minutes=5)
"""GetMetricData's period: AWS/SQS publishes every minute; five minutes smooths its approximations."""

# --- 1 hour ---------------------------------------------------------------------------------------
DEPTH_REDUCED_MORE_THAN_PERCENT = 50.0
"""Queue depth reduced by more than 50 %: visible messages at +1 h vs at the rollout."""
REAPPEARING_TOLERANCE_PERCENT = 5.0
"""No messages reappearing: receives not accounted for by a delete, a deliberate release (the worker's
MessagesReleased) or the messages still in flight at the window's end may be at most this share of all
receives (SQS's counts are approximate and delivery is at least once)."""
DLQ_STABLE_ALLOWANCE_MESSAGES = 10
"""DLQ stable (not growing exponentially): the DLQ's growth in the window's second half may exceed its
growth in the first half by at most this many messages."""
NO_DELETE_FAILURES = 0
"""No MessageDeleteFailed: its sum over the window."""
# all workers healthy: in service >= desired at the window's end (ec2), no throttles (lambda).

# --- 6 hours --------------------------------------------------------------------------------------
DEPTH_BELOW_AT_SIX_HOURS = 100
"""Queue depth < 100 at +6 h."""
THROUGHPUT_ABOVE_FILES_PER_HOUR = THROUGHPUT_FLOOR_PER_HOUR
"""Throughput > 100 files/hour: MessagesProcessed over the window divided by its hours."""
SUCCESS_RATE_AT_LEAST_PERCENT = SUCCESS_RATE_FLOOR_PERCENT
"""Success rate > 95 %: processed / (processed + failed) over the window, at or above the floor."""
NO_WORKER_CRASHES = 0
"""No worker crashes: WorkerCrashed (ec2) or AWS/Lambda Errors (lambda) summed over the window."""

# --- 24 hours -------------------------------------------------------------------------------------
STEADY_STATE = timedelta(hours=1)
"""Steady state is judged over the window's last hour, not one sample."""
DEPTH_BELOW_AT_TWENTY_FOUR_HOURS = 10
"""Queue depth < 10 (steady state): the highest depth in the window's last hour."""
DLQ_CLEARED_MAX_MESSAGES = 0
"""The DLQ reviewed and cleared: messages in the DLQ at +24 h beyond those the worker dead-lettered
since the rollout (MessagesDeadLettered), i.e. dead letters from before the rollout still there."""
UPLOADS_WORKING_MIN_MESSAGES_SENT = 1
"""Uploads working: at least one S3 notification (NumberOfMessagesSent) reached the queue in the window."""
INDEXING_LAG_BELOW_SECONDS = LAG_LIMIT_SECONDS
"""Indexing lag < 5 minutes: the oldest message's age, highest over the window's last hour."""
