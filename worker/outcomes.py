"""What happens to a message, as a value: every message ends in exactly one outcome (contract 4).

Processing produces a `Verdict`; `MessageActions` is the one place that turns it into a delete, a
release with backoff, or a copy to the dead-letter queue. Each outcome names the metrics it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from worker import metrics


class Action(Enum):
    DELETE = "delete"
    DEAD_LETTER = "dead_letter"
    RELEASE = "release"


class Outcome(Enum):
    PROCESSED = ("processed", Action.DELETE, (metrics.PROCESSED,))
    TEST_EVENT = ("test_event", Action.DELETE, (metrics.TEST_EVENTS,))
    DUPLICATE = ("duplicate", Action.DELETE, (metrics.DUPLICATES,))
    OBJECT_GONE = ("object_gone", Action.DELETE, (metrics.OBJECTS_GONE,))
    NOT_AN_S3_EVENT = ("not_an_s3_event", Action.DEAD_LETTER, (metrics.FAILED,))
    PERMANENT_FAILURE = ("permanent_failure", Action.DEAD_LETTER, (metrics.FAILED,))
    TRANSIENT_FAILURE = ("transient_failure", Action.RELEASE, (metrics.FAILED,))
    TIMED_OUT = ("timed_out", Action.RELEASE, (metrics.FAILED,))

    def __init__(self, label: str, action: Action, counted_as: tuple[str, ...]) -> None:
        self.label = label
        self.action = action
        self.counted_as = counted_as


# When one message carries several records, the most cautious action wins: a record to retry keeps
# the whole message; otherwise a record that can never succeed sends it to the DLQ.
_PRECEDENCE = {Action.RELEASE: 2, Action.DEAD_LETTER: 1, Action.DELETE: 0}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    error_type: str = ""

    @property
    def action(self) -> Action:
        return self.outcome.action


def combine(verdicts: list[Verdict]) -> Verdict:
    return max(verdicts, key=lambda verdict: _PRECEDENCE[verdict.action])
