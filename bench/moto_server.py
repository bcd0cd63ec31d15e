"""moto's server for the benchmarks, without moto's per-message costs that grow with the queue's depth.

`python -m bench.moto_server -H 127.0.0.1 -p PORT` runs `moto.server` with two changes to moto 5.2's
SQS model, each giving the same answers in less CPU:
- ReceiveMessage checks each returned message's retention by building *all* of the queue's
  attributes three times (`SQSBackend.is_message_valid_based_on_retention_period`), three of which
  count every message in the queue: the replacement reads `MessageRetentionPeriod` directly.
- Every visibility test of every message reads the clock through two `datetime` constructions
  (`moto.core.utils.unix_time`, kept that way for freezegun); SendMessage and ReceiveMessage test
  every message in the queue. The replacement reads `time.time()` (the same UTC epoch seconds).
Unpatched, each received or sent message costs O(queue depth) of moto's CPU (about 5 ms at a
depth of 40 on these machines), a cost real SQS does not have: the benchmark would measure moto,
not the consumers. Both consumers run against the same patched server; the tests, the drill and
the sandbox use moto unpatched.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from moto.core import utils as moto_utils
from moto.sqs import models as sqs_models
from moto.sqs.models import SQSBackend


def _retained(self: SQSBackend, queue_name: str, message: Any) -> bool:
    """moto's retention check, reading the one attribute it needs instead of all of them."""
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > _unix_time()


def _unix_time(dt: datetime | None = None) -> float:
    return time.time() if dt is None else moto_utils.unix_time(dt)


def _unix_time_millis(dt: datetime | None = None) -> float:
    return _unix_time(dt) * 1000.0


def patch() -> None:
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    sqs_models.unix_time = _unix_time
    sqs_models.unix_time_millis = _unix_time_millis


if __name__ == "__main__":
    from moto.server import main

    patch()
    main()
