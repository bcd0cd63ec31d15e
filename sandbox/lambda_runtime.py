"""One emulated Lambda execution environment (a child process of sandbox/lambda_emulator.py).

Init: import the handler (`module:function`), then say "ready" on the control channel. Each request
on stdin is one invocation: the event and the function timeout; the answer (the handler's return value
or its exception) goes back on the control channel, file descriptor `argv[2]`. Whatever the handler
prints (JSON log lines, EMF metric lines) stays on stdout: the parent reads it as CloudWatch Logs
would. This is an emulation, not the Lambda runtime: see sandbox/lambda_emulator.py.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The part of the Lambda context object the handler uses, with the remaining time counting down."""

    def __init__(self, timeout_seconds: float, function_name: str) -> None:
        self._end = time.monotonic() + timeout_seconds
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def main(argv: list[str]) -> int:
    spec, control_fd = argv[1], int(argv[2])
    control = os.fdopen(control_fd, "w", encoding="utf-8")

    def answer(message: dict[str, Any]) -> None:
        control.write(json.dumps(message) + "\n")
        control.flush()

    module_name, _, function_name = spec.partition(":")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # noqa: BLE001 - an init error is reported, as Lambda reports it
        answer({"init_error": f"{type(error).__name__}: {error}"})
        return 1
    answer({"ready": True})
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
    for line in sys.stdin:
        request = json.loads(line)
        context = Context(float(request["timeout_seconds"]), name)
        try:
            response = handler(request["event"], context)
            answer({"response": response})
        except Exception as error:  # noqa: BLE001 - the invocation failed: the whole batch does
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            answer({"error": f"{type(error).__name__}: {error}"})
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
