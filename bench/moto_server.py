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
not the consumers. Both consumers run against the same patched server. The patch lives in
sandbox/moto_sqs.py, so the sandbox's in-process server (the tests, the drill) runs it too.
"""

from __future__ import annotations

from sandbox.moto_sqs import _retained, without_depth_costs

__all__ = ["_retained", "patch"]


def patch() -> None:
    without_depth_costs()


if __name__ == "__main__":
    from moto.server import main

    patch()
    main()
