"""`python -m sandbox.incident_worker`: the worker as it was before the fix, for the incident replay.

It receives, processes with the same processor, and never deletes. Nothing else differs, so the
replay shows what the missing delete (with the incident's queue settings) does on its own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

import boto3

from worker.__main__ import load_processor
from worker.events import BodyKind, parse_body


def main() -> int:
    sqs = boto3.session.Session().client("sqs")
    queue_url = os.environ["QUEUE_URL"]
    processor = load_processor(os.environ.get("FILE_PROCESSOR", "worker.indexer:index_file"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=1,
            AttributeNames=["ApproximateReceiveCount"],
        )
        for message in response.get("Messages", []):
            parsed = parse_body(message["Body"])
            outcome = "received"
            try:
                for event in parsed.events if parsed.kind is BodyKind.OBJECT_EVENTS else ():
                    processor(event)
                outcome = "processed"
            except Exception as error:  # noqa: BLE001 - the old worker logged and moved on
                outcome = f"failed: {error}"
            line = {
                "message": "message handled",
                "message_id": message["MessageId"],
                "receive_count": int(message["Attributes"]["ApproximateReceiveCount"]),
                "outcome": outcome,
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            # the bug: no sqs.delete_message(...) here
    return 0


if __name__ == "__main__":
    sys.exit(main())
