"""JSON log lines (one object per line) for the journal: message id, key, outcome, duration.

Every line is JSON, whoever writes it: the worker's own loggers, library loggers (pypdf's "invalid pdf
header", botocore's warnings) and the `warnings` module (logging.captureWarnings) go through the one
formatter; uncaught exceptions in threads are logged, not printed; and in a job's process whatever
writes to stdout or stderr directly (print, a C library, a tool the processor starts) is read back
line by line and logged as JSON too (`capture_output`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
OUTPUT_LOGGER = "worker.job.output"
"""The logger the job processes' raw stdout and stderr lines are logged with."""
OUTPUT_LINE_MAX_CHARS = 4000


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on `stream` (stdout) for every logger, warnings and uncaught exceptions."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    threading.excepthook = _log_thread_exception
    sys.excepthook = _log_exception


def _log_thread_exception(args: Any) -> None:
    if args.exc_type is SystemExit:
        return
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("worker").error(
        "uncaught exception in thread %s",
        thread,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def _log_exception(exc_type: Any, value: Any, traceback: Any) -> None:
    logging.getLogger("worker").error("uncaught exception", exc_info=(exc_type, value, traceback))


def capture_output() -> None:
    """In a job's process: log as JSON (on the real stdout) and turn fds 1 and 2 into pipes whose
    lines are logged as JSON, so a processor's print, a C library's message or a tool's output (the
    tools inherit the pipes) cannot break the log's one-object-a-line format."""
    journal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    configure_logging(stream=journal)
    for fd, name, level in ((1, "stdout", logging.INFO), (2, "stderr", logging.WARNING)):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        threading.Thread(
            target=_forward, args=(read_end, name, level), name=f"output-{name}", daemon=True
        ).start()
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)


def _forward(read_end: int, stream: str, level: int) -> None:
    log = logging.getLogger(OUTPUT_LOGGER)
    with os.fdopen(read_end, "rb") as lines:
        for raw in lines:
            text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            if text:
                log.log(level, text[:OUTPUT_LINE_MAX_CHARS], extra={"stream": stream, "pid": os.getpid()})
