"""`python -m worker`: build the clients from boto3's environment, load the processor, run until SIGTERM."""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import boto3
from botocore.config import Config

from worker.config import WorkerConfig
from worker.consumer import Consumer, Processor
from worker.errors import ConfigurationError
from worker.logs import configure_logging

log = logging.getLogger("worker")

# botocore's standard retry mode (exponential backoff with jitter, throttling and 5xx retried):
# no hand-written retry loops around single calls.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=50)


def load_processor(spec: str) -> Processor:
    """`package.module:function` -> the callable (FILE_PROCESSOR)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r}: expected 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r} cannot be loaded: {error}") from error
    if not callable(function):
        raise ConfigurationError(f"FILE_PROCESSOR={spec!r} is not callable")
    return function


def main() -> int:
    configure_logging()
    try:
        config = WorkerConfig.from_environ()
        processor = load_processor(config.file_processor)
        session = boto3.session.Session()
        consumer = Consumer(
            config,
            sqs=session.client("sqs", config=BOTO_CONFIG),
            cloudwatch=session.client("cloudwatch", config=BOTO_CONFIG),
            processor=processor,
        )
    except ConfigurationError as error:
        log.error("configuration error: %s", error)
        return 2

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    consumer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
