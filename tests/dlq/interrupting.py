"""`python -m tests.dlq.interrupting N ARGS…`: `python -m dlq ARGS…` that kills itself (SIGKILL, no
clean-up at all) right after its N-th copy is sent and recorded, before the original is deleted: the
moment an interruption is most likely to duplicate a message. N = 0 never kills."""

from __future__ import annotations

import os
import signal
import sys

from dlq import moving, queues
from dlq.__main__ import main
from dlq.letters import DeadLetter


def kill_after(copies: int) -> None:
    sent = 0

    def hook(_: DeadLetter) -> None:
        nonlocal sent
        sent += 1
        if copies and sent >= copies:
            os.kill(os.getpid(), signal.SIGKILL)

    moving.after_send = hook


if __name__ == "__main__":
    queues.SCAN_VISIBILITY_SECONDS = int(os.environ.get("DLQ_SCAN_VISIBILITY_SECONDS", "30"))
    queues.MOVE_MESSAGES_PER_SECOND = int(os.environ.get("DLQ_MOVE_MESSAGES_PER_SECOND", "10"))
    kill_after(int(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
