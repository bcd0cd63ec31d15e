"""Benchmark: push 500 small files (--files) through moto server, with the worker and with a naive consumer.

Measured in one run (this machine is noisy), against moto server in a process of its own
(bench/moto_server.py: moto with two per-message costs that grow with the queue's depth removed,
same answers; real SQS has no such cost), with a
fixed latency (`--latency-ms`, default 15 ms: an in-region round trip; 0 allowed) injected before
every AWS request of both consumers with botocore's `before-send` event hook, because on loopback
moto answers in a millisecond and its own CPU, not the round trip, would be what is measured:
- SQS requests per processed message, counted with the same hook (goal <= 0.25; receiving and
  deleting in batches of ten makes the floor 0.2);
- throughput of the worker at `--concurrency` (default 4, the production setting) relative to a
  naive consumer that receives one message and deletes it, one at a time (goal >= 8x at 15 ms).
  Both run the same light processor (it reads the event, not the file), so the ratio measures the
  consumption machinery, not S3 transfer speed; the worker runs it in its child processes;
- the peak RSS of a process that indexes a 1 GB file with the built-in indexer (streamed to disk).

Last line, machine-readable: `latency_ms=<f> concurrency=<n> speedup_vs_naive=<f>
sqs_requests_per_message=<f> peak_rss_mb_1gb=<f>`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3

from preview.entrypoint import finite_number, run_command, whole_number
from sandbox.local_aws import (
    LocalPipeline,
    clients,
    create_pipeline,
    local_environment,
    moto_server_process,
)
from worker.config import WorkerConfig
from worker.consumer import Consumer
from worker.events import S3ObjectEvent, parse_body

LEAD = 40
STAGE_CHUNK = 50
"""Messages sent ahead of the deletes (see `in_stream`)."""
REPO_ROOT = Path(__file__).resolve().parent.parent


def light_processor(event: S3ObjectEvent) -> None:
    """The same tiny amount of work for both consumers: look at the event."""
    if not event.key:
        raise ValueError("empty key")


def add_latency(client: Any, seconds: float) -> None:
    """Sleep `seconds` before every HTTP request the client sends (retries included)."""
    if seconds > 0:
        client.meta.events.register("before-send", lambda **_: time.sleep(seconds))


class RequestCounter:
    """Counts HTTP requests a client sends (retries included) with botocore's event system."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-send.sqs", self._count)

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.count += 1


def stage_uploads(s3: Any, sqs: Any, name: str, files: int) -> tuple[LocalPipeline, list[str]]:
    """Upload `files` small files; collect the S3 notification bodies moto delivers for them."""
    pipeline = create_pipeline(s3, sqs, name, visibility_timeout=60, max_receive_count=3)
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    bodies: list[str] = []
    for n in range(files):
        s3.put_object(
            Bucket=pipeline.upload_bucket, Key=f"uploads/小さな ファイル {n:04d}.txt", Body=b"hello"
        )
        if (n + 1) % STAGE_CHUNK == 0 or n + 1 == files:
            _collect(sqs, pipeline.queue_url, bodies, n + 1)  # in chunks: moto's receive slows with depth
        if (n + 1) % 250 == 0:
            print(f"  uploaded {n + 1}/{files} to {pipeline.upload_bucket}", flush=True)
    return pipeline, bodies


def _collect(sqs: Any, queue_url: str, bodies: list[str], until: int) -> None:
    while len(bodies) < until:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = response.get("Messages", [])
        bodies.extend(message["Body"] for message in messages)
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def feed(sqs: Any, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)


def in_stream(sqs: Any, pipeline: LocalPipeline, bodies: list[str], deleted: Any, lead: int = LEAD) -> float:
    """Seconds until every notification is processed *and deleted*, fed as a steady stream: the feeder
    keeps at most `lead` messages sent but not yet deleted (a queue kept shallow, as in a steady state).

    Why not all at once: even patched (bench/moto_server.py), moto's server CPU per request is the
    shared limit; a steady shallow queue is also what a fleet that keeps up sees. The feeder sends
    batches of ten, without injected latency, the same for both consumers.
    """
    feeder = boto3.session.Session().client(
        "sqs", endpoint_url=sqs.meta.endpoint_url, region_name=sqs.meta.region_name
    )
    started = time.perf_counter()
    sent = 0
    while deleted() < len(bodies):
        if sent < len(bodies) and sent - deleted() < lead:
            batch = bodies[sent : sent + 10]
            feed(feeder, pipeline.queue_url, batch)
            sent += len(batch)
            continue
        if time.perf_counter() - started > 600:
            raise TimeoutError(f"only {deleted()} of {len(bodies)} messages deleted after 600 s")
        time.sleep(0.002)
    return time.perf_counter() - started


def run_worker(
    endpoint: str,
    pipeline: LocalPipeline,
    bodies: list[str],
    latency: float,
    concurrency: int,
    lead: int,
) -> tuple[float, int]:
    s3, sqs, cloudwatch = clients(endpoint)
    for client in (s3, sqs, cloudwatch):
        add_latency(client, latency)
    counter = RequestCounter(sqs)
    config = WorkerConfig(
        queue_url=pipeline.queue_url,
        processing_timeout_seconds=60,
        metric_namespace="Bench/Worker",
        index_bucket=pipeline.index_bucket,
        concurrency=concurrency,
        receive_wait_seconds=20,
        shutdown_grace_seconds=10,
    )
    consumer = Consumer(config, sqs=sqs, cloudwatch=cloudwatch, processor=light_processor, s3=s3)
    at_start = counter.count  # the start-up checks are not per-message work
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    if not consumer.ready.wait(120):
        raise SystemExit("the worker's processing processes did not start")
    elapsed = in_stream(sqs, pipeline, bodies, lambda: consumer.deleter.deleted, lead)
    requests = counter.count - at_start
    consumer.stop()
    thread.join(60)
    return elapsed, requests


def run_naive(
    endpoint: str, pipeline: LocalPipeline, bodies: list[str], latency: float, lead: int
) -> tuple[float, int]:
    """Receive one, process, delete one: the incident's worker plus the missing delete."""
    _, sqs, _ = clients(endpoint)
    add_latency(sqs, latency)
    counter = RequestCounter(sqs)
    deleted = [0]
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            response = sqs.receive_message(
                QueueUrl=pipeline.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
            )
            for message in response.get("Messages", []):
                for event in parse_body(message["Body"]).events:
                    light_processor(event)
                sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=message["ReceiptHandle"])
                deleted[0] += 1

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    elapsed = in_stream(sqs, pipeline, bodies, lambda: deleted[0], lead)
    requests = counter.count
    stop.set()
    thread.join(10)
    return elapsed, requests


def peak_rss_indexing(endpoint: str, size_mb: int) -> tuple[float, float]:
    """(peak RSS MB, RSS MB before indexing) of a fresh process that indexes a `size_mb` MB text file."""
    s3, sqs, _ = clients(endpoint)
    pipeline = create_pipeline(s3, sqs, "bench-large", visibility_timeout=900, max_receive_count=3)
    key = "uploads/大きな ファイル.txt"
    block = ("検索できる本文 " * 4096).encode()
    reader = _RepeatingReader(block, size_mb * 1024 * 1024)
    s3.upload_fileobj(reader, pipeline.upload_bucket, key, ExtraArgs={"ContentType": "text/plain"})
    etag = s3.head_object(Bucket=pipeline.upload_bucket, Key=key)["ETag"].strip('"')
    child = (
        "import json, sys\n"
        "import boto3\n"
        "from worker.events import S3ObjectEvent\n"
        "from worker.indexer import Indexer\n"
        "s3 = boto3.session.Session().client('s3')\n"
        "def high_water_mb():  # VmHWM is per address space; ru_maxrss would include the parent's at fork\n"
        "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "    return int(line.split()[1]) / 1024\n"
        "before = high_water_mb()\n"
        "event = S3ObjectEvent(bucket=sys.argv[1], key=sys.argv[2], size=0, etag=sys.argv[3])\n"
        "document = Indexer(s3, sys.argv[4], 'documents/').index(event)\n"
        "peak = high_water_mb()\n"
        "print(json.dumps({'before': before, 'peak': peak, 'size': document['size']}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child, pipeline.upload_bucket, key, etag, pipeline.index_bucket],
        cwd=REPO_ROOT,
        env={**os.environ, **local_environment(endpoint)},
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["size"] != size_mb * 1024 * 1024:
        raise SystemExit(f"indexed {report['size']} bytes, expected {size_mb} MB")
    return report["peak"], report["before"]


class _RepeatingReader:
    """A file-like object of `total` bytes made of `block` repeated, without holding them in memory."""

    def __init__(self, block: bytes, total: int) -> None:
        self._block, self._remaining, self._offset = block, total, 0

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        size = self._remaining if size < 0 else min(size, self._remaining)
        out = bytearray()
        while len(out) < size:
            start = self._offset % len(self._block)
            piece = self._block[start : start + size - len(out)]
            out += piece
            self._offset += len(piece)
        self._remaining -= size
        return bytes(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files",
        type=whole_number(1, 100_000),
        default=500,
        help="small files per consumer (1..100000, default 500)",
    )
    parser.add_argument(
        "--latency-ms",
        type=finite_number(0, 10_000),
        default=15.0,
        help="added before every AWS request (0..10000, default 15)",
    )
    parser.add_argument(
        "--lead",
        type=whole_number(1, 10_000),
        default=LEAD,
        help=f"messages fed ahead of the deletes, the queue's depth (1..10000, default {LEAD})",
    )
    parser.add_argument(
        "--concurrency", type=whole_number(1, 64), default=4, help="the worker's slots (1..64; production: 4)"
    )
    parser.add_argument(
        "--large-file-mb",
        type=whole_number(1, 4096),
        default=1024,
        help="the file whose indexing RSS is measured (1..4096, default 1024)",
    )
    options = parser.parse_args(argv)
    latency = options.latency_ms / 1000
    with moto_server_process("bench.moto_server") as endpoint:
        os.environ.update(local_environment(endpoint))
        s3, sqs, _ = clients(endpoint)
        print(
            f"Uploading {options.files} small files to moto server at {endpoint}",
            flush=True,
        )
        pipeline, bodies = stage_uploads(s3, sqs, "bench", options.files)
        print(
            f"Consuming {len(bodies)} notifications as a stream {options.lead} ahead: the worker, then the naive consumer",
            flush=True,
        )
        print(
            f"Latency {options.latency_ms:g} ms before every AWS request; worker concurrency {options.concurrency}"
        )
        worker_seconds, worker_requests = run_worker(
            endpoint, pipeline, bodies, latency, options.concurrency, options.lead
        )
        print(
            f"worker: {options.files} messages in {worker_seconds:.2f} s, {worker_requests} SQS requests",
            flush=True,
        )
        naive_seconds, naive_requests = run_naive(endpoint, pipeline, bodies, latency, options.lead)
        print(
            f"naive:  {options.files} messages in {naive_seconds:.2f} s, {naive_requests} SQS requests",
            flush=True,
        )
        print(f"Indexing a {options.large_file_mb} MB file in a fresh process ...", flush=True)
        peak_mb, before_mb = peak_rss_indexing(endpoint, options.large_file_mb)
        print(f"indexer: peak RSS {peak_mb:.1f} MB (after imports {before_mb:.1f} MB)", flush=True)
    print(
        f"latency_ms={options.latency_ms:g} concurrency={options.concurrency} "
        f"speedup_vs_naive={naive_seconds / worker_seconds:.2f} "
        f"sqs_requests_per_message={worker_requests / options.files:.3f} peak_rss_mb_1gb={peak_mb:.1f}"
    )


if __name__ == "__main__":
    run_command(main, "python -m bench.worker")
