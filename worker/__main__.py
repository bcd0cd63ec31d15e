"""`python -m worker`: check the settings, build the clients from boto3's environment, run until SIGTERM.

Exit status: 0 after SIGTERM/SIGINT (in-flight work finished or handed back; the crash marker
removed, worker/crash_marker.py); 2 when a start-up check fails (one JSON error line, no traceback); 3 when the worker stopped itself on a fatal error (its own
index bucket gone or denied: messages handed back, not dead-lettered); 75 (EX_TEMPFAIL) when AWS did
not answer a start-up check after botocore's retries, which systemd restarts and exit 2 it does not.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from worker import crash_marker
from worker.aws_setup import AwsSetupError, require_aws_settings, use_local_placeholders
from worker.child import load_processor
from worker.config import WorkerConfig, boto_config, environment_help
from worker.contract import RUNTIME_DIRECTORY, WORKER_CRASHED, WORKER_STATE_DIR
from worker.errors import ConfigurationError, ServiceUnavailable
from worker.logs import configure_logging

__all__ = ["load_processor", "main"]

log = logging.getLogger("worker")

EXIT_CONFIGURATION = 2
EXIT_FATAL = 3
EXIT_UNAVAILABLE = 75
"""sysexits.h EX_TEMPFAIL: a start-up check met an AWS outage, not a wrong setting; systemd restarts it."""


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments in (["--help"], ["-h"]):
        sys.stdout.write(environment_help())
        return 0
    configure_logging()
    if arguments:
        log.error(
            "python -m worker takes no arguments (got %s): it is configured by environment variables; "
            "see python -m worker --help",
            " ".join(arguments),
            extra={"error": "UsageError"},
        )
        return EXIT_CONFIGURATION
    stop_requested: list[int] = []
    consumers: list[Any] = []

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop_requested.append(signum)
        for consumer in consumers:
            consumer.stop()

    # installed first: a SIGTERM during the start-up checks still means "stop cleanly"
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        import boto3

        from worker.consumer import Consumer

        placeholders = use_local_placeholders()
        if placeholders:
            log.info(placeholders)
        else:
            require_aws_settings()
        config = WorkerConfig.from_environ()
        load_processor(config.file_processor)  # fail here, not in every child
        session = boto3.session.Session()
        consumer = Consumer(
            config,
            sqs=session.client("sqs", config=boto_config()),
            cloudwatch=session.client("cloudwatch", config=boto_config()),
            processor=config.file_processor,
            s3=session.client("s3", config=boto_config()),
        )
        state_directory = crash_marker.state_directory(os.environ)
        crashed = None if state_directory is None else crash_marker.begin_run(state_directory)
    except ServiceUnavailable as error:
        log.error("AWS unavailable at start-up: %s", error, extra={"error": "ServiceUnavailable"})
        return EXIT_UNAVAILABLE
    except (ConfigurationError, AwsSetupError) as error:
        log.error("configuration error: %s", error, extra={"error": "ConfigurationError"})
        return EXIT_CONFIGURATION
    except Exception as error:  # noqa: BLE001 - docs/worker.md: one JSON line, never a traceback
        log.error(
            "start-up failed: %s: %s", type(error).__name__, error, extra={"error": type(error).__name__}
        )
        return EXIT_CONFIGURATION
    report_previous_run(consumer, crashed)
    consumers.append(consumer)
    if stop_requested:
        consumer.stop()
    consumer.run()
    if consumer.fatal_reason:
        log.error("stopped on a fatal error: %s", consumer.fatal_reason, extra={"error": "WorkerFatalError"})
        return EXIT_FATAL
    if state_directory is not None:
        crash_marker.end_run(state_directory)
    return 0


def report_previous_run(consumer: Any, crashed: bool | None) -> None:
    """Publish `WorkerCrashed` once, now (a crash before the first periodic flush would lose it)."""
    if crashed is None:
        log.info(
            "no %s or %s: no crash marker, %s is not published",
            WORKER_STATE_DIR,
            RUNTIME_DIRECTORY,
            WORKER_CRASHED,
        )
        return
    if crashed:
        log.warning("the previous run of the worker on this host ended without a clean shutdown")
    consumer.metrics.count(WORKER_CRASHED, int(crashed))
    consumer.metrics.flush()


if __name__ == "__main__":
    sys.exit(main())
