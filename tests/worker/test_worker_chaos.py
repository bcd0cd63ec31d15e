"""Chaos, drawn by hypothesis, against moto server: hung and crashing calls, processing processes
killed from outside (as by the OOM killer), S3 throttling, SQS answering 503 to a share of the
worker's requests, odd bodies, and a worker restarted mid-run.

The invariant: every message is processed by at most one call at a time (the processors' per-key
`flock` witnesses it; the kernel releases it only when the holding process is gone), and ends
either indexed or in the DLQ with a reason (ErrorType and Reason on every dead letter: none moved
there by SQS's redrive without a word)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.local_aws import clients, create_pipeline, queue_depth, wait_until
from tests.hypothesis_profiles import examples
from tests.local_aws import running_consumer, worker_config
from tests.worker.processors import completions, overlaps
from tests.worker.test_worker_properties import marker_environment
from worker.errors import ServiceUnavailable
from worker.events import BodyKind, parse_body

pytestmark = pytest.mark.slow

MAX_RECEIVE_COUNT = 3
RUNS = itertools.count()
FIGURES: list[dict] = []
"""One line per example, printed with `-s`: the chaos figures (CHAOS_EXAMPLES=N for a longer run)."""

behaviours = st.sampled_from(
    ["ok", "ok", "ok", "hang", "crash", "throttled1", "throttled2", "flaky1", "perm", "always"]
)
names = st.text(alphabet="あいう abc漢字+%", min_size=1, max_size=5)
odd_bodies = st.one_of(
    st.sampled_from(['{"Records":[null]}', '{"key":123}', "[]", "null", '{"Records":[]}', "not json at all"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xD7FF), min_size=1, max_size=30).filter(
        lambda text: text.strip() and parse_body(text).kind is BodyKind.NOT_AN_S3_EVENT
    ),
)


class _Body:
    def stream(self, **_):
        yield b""


def unavailable_sometimes(rate: float, seed: int):
    """A `before-send` hook: answer HTTP 503 without sending, for `rate` of the requests."""
    chance = random.Random(seed)
    injected = [0]

    def hook(request, **_):
        if chance.random() < rate:
            injected[0] += 1
            return AWSResponse(request.url, 503, {}, _Body())
        return None

    return hook, injected


@contextlib.contextmanager
def running_as_systemd_runs_it(worker_clients, config, processor, restarts: list[int]):
    """`running_consumer`, started again when its start-up checks met the injected 503s: systemd
    restarts a worker that exits 75 (worker/file-processor.service), so the chaos must too."""
    for attempt in itertools.count():
        manager = running_consumer(worker_clients, config, processor)
        try:
            consumer = manager.__enter__()
        except ServiceUnavailable:
            assert attempt < 20, "the start-up checks never got through the injected 503s"
            restarts.append(1)
            continue
        break
    try:
        yield consumer
    finally:
        manager.__exit__(None, None, None)


def kill_running_calls(consumer_box: list, stop: threading.Event, seed: int, kills: list[int]) -> None:
    """Now and then SIGKILL a processing process that is running a call."""
    chance = random.Random(seed)
    while not stop.wait(chance.uniform(0.5, 1.5)):
        consumer = consumer_box[0] if consumer_box else None
        busy = [slot for slot in (consumer.slots if consumer else []) if slot.busy.is_set() and slot.pid]
        if busy:
            try:
                os.kill(chance.choice(busy).pid, 9)
                kills.append(1)
            except (ProcessLookupError, TypeError):
                pass


def read_dlq(sqs, dlq_url: str) -> list[dict]:
    letters = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return letters
        for message in messages:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            letters.append({"body": message["Body"], **attributes})
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])


@settings(
    max_examples=examples(4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(st.tuples(behaviours, names), min_size=2, max_size=8, unique_by=lambda upload: upload[1]),
    bodies=st.lists(odd_bodies, max_size=3),
    unavailable_rate=st.sampled_from([0.0, 0.1, 0.25]),
    external_kills=st.booleans(),
    restart=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_chaos_one_call_at_a_time_and_every_message_indexed_or_dead_lettered_with_a_reason(
    aws_endpoint, files, bodies, unavailable_rate, external_kills, restart, seed
):
    s3, sqs, _ = clients(aws_endpoint)
    pipeline = create_pipeline(
        s3,
        sqs,
        f"chaos-{os.getpid()}-{seed}-{next(RUNS)}",  # a replayed example gets a fresh queue
        visibility_timeout=3,
        max_receive_count=MAX_RECEIVE_COUNT,
    )
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    keys = {f"uploads/{behaviour}-{name}.txt": behaviour for behaviour, name in files}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as markers, marker_environment(markers):
        marker_dir = Path(markers)
        for key in keys:
            s3.put_object(Bucket=pipeline.upload_bucket, Key=key, Body=b"x")
        for body in bodies:
            sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)
        worker_clients = clients(aws_endpoint)
        hook, injected = unavailable_sometimes(unavailable_rate, seed)
        if unavailable_rate:
            worker_clients[1].meta.events.register("before-send.sqs", hook)
        config = worker_config(
            pipeline,
            processing_timeout_seconds=1.5,
            concurrency=3,
            shutdown_grace_seconds=0.5,
            heartbeat_seconds=0.5,
        )
        box: list = []
        stop, kills, restarts = threading.Event(), [], []
        killer = threading.Thread(target=kill_running_calls, args=(box, stop, seed, kills), daemon=True)
        if external_kills:
            killer.start()

        def finished() -> bool:
            in_dlq = queue_depth(sqs, pipeline.dlq_url)[0]
            return queue_depth(sqs, pipeline.queue_url) == (0, 0) and in_dlq + sum(
                1 for key in keys if completions(marker_dir, key)
            ) >= len(keys) + len(bodies)

        try:
            for run in range(2 if restart else 1):
                with running_as_systemd_runs_it(
                    worker_clients, config, "tests.worker.processors:by_key_prefix", restarts
                ) as consumer:
                    box[:] = [consumer]
                    if restart and run == 0:
                        time.sleep(2)  # stop mid-run: buffered messages handed back, running ones stopped
                        continue
                    wait_until(finished, 120, interval=0.3, message="every message to reach its end")
        finally:
            stop.set()
        letters = read_dlq(sqs, pipeline.dlq_url)
        assert overlaps(marker_dir) == []  # never two calls for one message at once
        assert all(letter.get("ErrorType") and letter.get("Reason") for letter in letters), letters
        dead_keys = {event.key for letter in letters for event in parse_body(letter["body"]).events}
        odd_letters = [
            letter for letter in letters if parse_body(letter["body"]).kind is BodyKind.NOT_AN_S3_EVENT
        ]
        assert sorted(letter["body"] for letter in odd_letters) == sorted(bodies)
        for key, behaviour in keys.items():
            assert key in dead_keys or completions(marker_dir, key) >= 1, (key, behaviour)
            if behaviour in ("hang", "crash", "perm", "always"):
                assert key in dead_keys and completions(marker_dir, key) == 0, (key, behaviour)
        assert queue_depth(sqs, pipeline.queue_url) == (0, 0)
    FIGURES.append(
        {
            "files": len(keys),
            "odd_bodies": len(bodies),
            "dead_letters": len(letters),
            "indexed": sum(1 for key in keys if key not in dead_keys),
            "sqs_503_injected": injected[0],
            "processes_killed_externally": len(kills),
            "restart": restart,
            "start_up_outages_restarted": len(restarts),
            "overlaps": 0,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    print("chaos:", json.dumps(FIGURES[-1]))
