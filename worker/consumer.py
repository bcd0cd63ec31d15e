"""The receive loop, the local buffer, the job slots and graceful shutdown.

- One receiver asks SQS for batches of ten (long polling) into a bounded local buffer. Held messages
  (waiting or running) stay invisible: the heartbeat extends them. The buffer grows beyond the free
  slots only while recent jobs are short (they start within PREFETCH_MAX_WAIT_SECONDS), so a worker
  busy with 15-minute files does not sit on messages another worker could take.
- `concurrency` slots, each a thread driving one child process (worker/jobs.py), take messages from
  the buffer. A job that passes its deadline is killed; the slot waits until its process is gone,
  and only then releases (or dead-letters) the message: never two calls for one message at once.
- Each message ends in exactly one `Verdict`, which `MessageActions` turns into SQS calls.
- The receiver (a thread of its own) starts only when every slot's process is ready.
- SIGTERM: stop receiving without waiting for an open long poll (what it still returns is handed
  back at once), hand back what waits in the buffer, let running jobs finish within the grace
  period, then stop them and hand their messages back; flush deletes and metrics; return.
- A fatal error (the worker's own index bucket gone or denied) stops the worker the same way, with
  the message handed back at once instead of dead-lettered; `fatal_reason` says why.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from worker import metrics
from worker.child import JobResult, processor_spec
from worker.config import SQS_MAX_VISIBILITY_SECONDS, WorkerConfig, boto_config
from worker.events import S3ObjectEvent
from worker.handler_core import decide, verdict_for
from worker.inflight import Heartbeat, InFlight, InFlightMessage
from worker.jobs import Slot
from worker.ledger import EventLedger
from worker.outcomes import Action, Outcome, Verdict, handled_fields
from worker.sqs_actions import DeleteBatcher, MessageActions
from worker.startup import QueueSettings, read_queue_settings, run_checks

__all__ = ["Consumer", "Processor", "QueueSettings", "read_queue_settings"]

log = logging.getLogger("worker")

Processor = Callable[[S3ObjectEvent], Any]
RECEIVE_ERROR_PAUSE_SECONDS = 1.0
SQS_MAX_BATCH = 10
RECEIVE_STOP_WAIT_SECONDS = 0.5
"""How long a stop waits for an open receive before it goes on without it."""
VISIBILITY_MARGIN_SECONDS = 60
"""A job must end this long before SQS's 12-hour cap on a message's invisibility."""


class Consumer:
    def __init__(
        self,
        config: WorkerConfig,
        sqs: Any,
        cloudwatch: Any,
        processor: Processor | str,
        s3: Any = None,
    ) -> None:
        """Runs every start-up check (worker/startup.py); raises ConfigurationError on the first failure.
        `processor` is a module-level function or its `package.module:function` name: it runs in child
        processes, which import it by that name. `s3` is only used for the index bucket check."""
        self.config = config
        self._sqs = sqs
        self.processor_spec = processor_spec(processor)
        if s3 is None:
            import boto3

            s3 = boto3.session.Session().client("s3", config=boto_config())
        self.queue_settings, heartbeat_interval = run_checks(config, sqs, s3)
        queue_name = config.queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.metrics = metrics.Metrics(cloudwatch, config.metric_namespace, {"QueueName": queue_name})
        self.inflight = InFlight()
        self.ledger = EventLedger()
        self.deleter = DeleteBatcher(sqs, config.queue_url, self.metrics)
        self.actions = MessageActions(
            sqs,
            config.queue_url,
            self.queue_settings,
            self.metrics,
            self.deleter,
            config.retry_backoff_base_seconds,
        )
        self.heartbeat = Heartbeat(
            sqs,
            config.queue_url,
            self.inflight,
            self.queue_settings.visibility_timeout,
            heartbeat_interval,
            self.metrics,
        )
        environ = {
            **os.environ,
            "INDEX_BUCKET": config.index_bucket,
            "INDEX_PREFIX": config.index_prefix,
        }
        self.slots = [Slot(f"slot-{n}", self.processor_spec, environ) for n in range(config.concurrency)]
        self._buffer: queue.Queue[InFlightMessage | None] = queue.Queue()
        self.stopping = threading.Event()
        self.abort = threading.Event()
        self.fatal_reason: str | None = None
        self.ready = threading.Event()
        """Set once every slot's process has started (or failed to); the first receive waits for it."""
        self._intake = threading.Lock()
        """Held while received messages enter the buffer, and while shutdown empties it: a receive
        that ends after the stop hands its messages back itself."""
        self._ready_lock = threading.Lock()
        self._slots_started = 0
        self.receive_requests = 0
        self.sqs_requests = 0
        self.max_buffered = 0
        self._job_seconds: float | None = None
        """Moving average of recent jobs' durations (None until one has finished)."""
        self._sqs_requests_lock = threading.Lock()
        sqs.meta.events.register("before-send.sqs", self._count_sqs_request)

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving (called from the SIGTERM/SIGINT handler; returns at once)."""
        self.stopping.set()
        with self.inflight.changed:
            self.inflight.changed.notify_all()

    def run(self) -> None:
        self.deleter.start()
        self.heartbeat.start()
        flusher = threading.Thread(target=self._flush_metrics_periodically, name="metrics", daemon=True)
        flusher.start()
        threads = [
            threading.Thread(target=self._slot_loop, args=(slot,), name=slot.name, daemon=True)
            for slot in self.slots
        ]
        for thread in threads:
            thread.start()
        log.info(
            "worker started",
            extra={
                "queue_url": self.config.queue_url,
                "dlq_url": self.queue_settings.dlq_url,
                "visibility_timeout": self.queue_settings.visibility_timeout,
                "max_receive_count": self.queue_settings.max_receive_count,
                "concurrency": self.config.concurrency,
                "processor": self.processor_spec,
            },
        )
        receiver = threading.Thread(target=self._receive_loop, name="receiver", daemon=True)
        receiver.start()
        try:
            while not self.stopping.wait(1.0):
                pass
            # on a signal an open long poll is not waited for (what it still returns is handed back at
            # once); on a fatal error nobody waits for the exit, so the poll ends and nothing stays hidden
            receiver.join(
                self.config.receive_wait_seconds + RECEIVE_STOP_WAIT_SECONDS
                if self.fatal_reason
                else RECEIVE_STOP_WAIT_SECONDS
            )
        finally:
            self._shut_down(threads)

    def _receive_loop(self) -> None:
        """Receive once every slot's process is ready (messages are not held while slots start),
        then whenever there is room, until stopping."""
        try:
            while not self.ready.wait(0.1):
                if self.stopping.is_set():
                    return
            while not self.stopping.is_set():
                wanted = self.inflight.wait_for_room(self._room, self.stopping)
                if wanted and not self.stopping.is_set():
                    self._receive(wanted)
        except Exception:  # noqa: BLE001 - a receiver that dies must stop the worker, not hang it
            log.exception("the receiver failed; stopping")
            self.stop()

    def prefetch_allowance(self) -> int:
        """Messages to hold beyond the slots: none until a job has finished, then as many as start
        within PREFETCH_MAX_WAIT_SECONDS at the recent pace (at most PREFETCH_MESSAGES)."""
        if self._job_seconds is None or self.config.prefetch_messages == 0:
            return 0
        if self._job_seconds <= 0:
            return self.config.prefetch_messages
        startable = int(self.config.prefetch_max_wait_seconds * self.config.concurrency / self._job_seconds)
        return max(0, min(self.config.prefetch_messages, startable))

    def _room(self, held: int) -> int:
        """How many messages to ask for now (0: wait). With a buffer, ask only for full batches."""
        prefetch = self.prefetch_allowance()
        room = self.config.concurrency + prefetch - held
        if prefetch == 0:
            return min(SQS_MAX_BATCH, room)
        needed = min(SQS_MAX_BATCH, self.config.concurrency + prefetch)
        return min(SQS_MAX_BATCH, room) if room >= needed else 0

    def _receive(self, wanted: int) -> None:
        sent = time.monotonic()  # SQS starts the visibility clock after this: a safe lower bound
        try:
            self.receive_requests += 1
            response = self._sqs.receive_message(
                QueueUrl=self.config.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=self.config.receive_wait_seconds,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp", "MessageGroupId"],
            )
        except Exception as error:  # noqa: BLE001 - botocore retried already; pause, then poll again
            log.warning("receive failed: %s", error)
            self.stopping.wait(RECEIVE_ERROR_PAUSE_SECONDS)
            return
        now = time.monotonic()
        messages = []
        for raw in response.get("Messages", []):
            message = InFlightMessage(
                message_id=raw["MessageId"],
                receipt_handle=raw["ReceiptHandle"],
                body=raw.get("Body", ""),
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                group_id=raw.get("Attributes", {}).get("MessageGroupId"),
                received_at=now,
                visible_at=sent + self.queue_settings.visibility_timeout,
                lapses_by=now + self.queue_settings.visibility_timeout,
            )
            messages.append(message)
        with self._intake:
            late = self.stopping.is_set()
            if not late:
                for message in messages:
                    self.inflight.add(message)
                    self._buffer.put(message)
        self.max_buffered = max(self.max_buffered, self._buffer.qsize())
        if late and messages:
            log.info("received while stopping: handed back at once", extra={"handed_back": len(messages)})
            for message in messages:
                message.settled_by = "shutdown"
            self._hand_back(messages)  # on their last receive: dead-lettered with the reason

    # --- one slot, one message at a time ---------------------------------------------------------

    def _slot_loop(self, slot: Slot) -> None:
        started = slot.start(abort=self.stopping.is_set)
        if started.kind == "fatal":
            self.fatal_reason = f"{started.error_type}: {started.reason}"
            log.error("a processing process could not start; stopping", extra={"reason": self.fatal_reason})
            self.stop()
        with self._ready_lock:
            self._slots_started += 1
            if self._slots_started == len(self.slots):
                self.ready.set()
                if not self.stopping.is_set():
                    log.info("slots ready; receiving", extra={"concurrency": len(self.slots)})
        while True:
            if started.kind == "ready" and not self.stopping.is_set():
                started = slot.ensure_started()
            message = self._buffer.get()
            if message is None:
                return
            try:
                self._handle(message, slot)
            except Exception:  # noqa: BLE001 - a bug here must not kill the slot or lose the message
                log.exception(
                    "unexpected error while handling a message", extra={"message_id": message.message_id}
                )
                if self.inflight.settle(message, by="error"):
                    self.actions.apply(
                        message,
                        Verdict(Outcome.TRANSIENT_FAILURE, reason="worker error", error_type="WorkerError"),
                    )

    def _handle(self, message: InFlightMessage, slot: Slot) -> None:
        started = time.monotonic()
        message.started_at = started
        message.deadline = min(
            started + self.config.processing_timeout_seconds,
            message.received_at + SQS_MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN_SECONDS,
        )
        verdict, keys = self._decide(message, slot)
        duration = time.monotonic() - started
        self._job_seconds = (
            duration if self._job_seconds is None else 0.8 * self._job_seconds + 0.2 * duration
        )
        if not self.inflight.settle(message, by="job"):
            return
        if message.lost.is_set() and verdict.outcome is Outcome.INTERRUPTED:
            log.warning(
                "job stopped: the message's visibility was lost, SQS hands it out again",
                extra={"message_id": message.message_id, "keys": keys},
            )
            return
        action = self.actions.apply(message, verdict)
        if verdict.outcome is Outcome.PROCESSED:
            self.metrics.duration(duration * 1000)
        if verdict.outcome is Outcome.WORKER_FATAL:
            self.fatal_reason = verdict.reason
            log.error(
                "the worker cannot work; stopping (the message was handed back, not dead-lettered)",
                extra={
                    "message_id": message.message_id,
                    "reason": verdict.reason,
                    "error_type": verdict.error_type,
                },
            )
            self.stop()
        log.log(
            logging.INFO if action is Action.DELETE else logging.WARNING,
            "message handled",
            extra={
                **handled_fields(message.message_id, keys, verdict, action, message.receive_count),
                "duration_ms": round(duration * 1000, 1),
                "slot": slot.name,
            },
        )

    def _decide(self, message: InFlightMessage, slot: Slot) -> tuple[Verdict, list[str]]:
        return decide(
            message.body,
            lambda event: self._process_once(
                dataclasses.replace(event, deadline=message.deadline), slot, message
            ),
        )

    def _process_once(self, event: S3ObjectEvent, slot: Slot, message: InFlightMessage) -> Verdict:
        if self.abort.is_set():
            return Verdict(Outcome.INTERRUPTED, reason=f"{event.key}: not started before shutdown")
        if not self.ledger.claim(event.identity, wait_seconds=max(0.0, event.remaining_seconds())):
            return Verdict(Outcome.DUPLICATE)

        def abort() -> str | None:
            if self.abort.is_set():
                return "WorkerShutdown"
            if message.lost.is_set():
                return "VisibilityLost"
            return None

        result = slot.run(event, event.deadline, abort)
        verdict = self._verdict(result, event)
        self.ledger.finish(event.identity, succeeded=verdict.action is Action.DELETE)
        return verdict

    def _verdict(self, result: JobResult, event: S3ObjectEvent) -> Verdict:
        verdict = verdict_for(result.kind, result.error_type, result.reason)
        if verdict.outcome is Outcome.OBJECT_GONE:
            log.warning(
                "object gone before processing; deleting the message",
                extra={"key": event.key, "reason": result.reason},
            )
        return verdict

    # --- stopping --------------------------------------------------------------------------------

    def _shut_down(self, threads: list[threading.Thread]) -> None:
        self.stopping.set()
        with self._intake:
            waiting = self._drain_buffer()
        log.info(
            "stopping: no more receives; waiting for running jobs",
            extra={"running": len(self.inflight), "handed_back": len(waiting)},
        )
        self._hand_back(waiting)
        for _ in threads:
            self._buffer.put(None)
        deadline = time.monotonic() + self.config.shutdown_grace_seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            log.warning("grace period over; stopping running jobs and handing their messages back")
            self.abort.set()
            for thread in threads:
                thread.join()
        self._hand_back(self._drain_buffer())  # a receive that was under way when the stop came
        for slot in self.slots:
            slot.close()
        self.heartbeat.stop()
        self.deleter.close()
        self.metrics.flush()
        log.info(
            "stopped",
            extra={
                "totals": dict(self.metrics.totals),
                "sqs_requests": self.sqs_requests,
                "fatal": self.fatal_reason,
            },
        )

    def _drain_buffer(self) -> list[InFlightMessage]:
        waiting = []
        while True:
            try:
                message = self._buffer.get_nowait()
            except queue.Empty:
                return waiting
            if message is None:
                continue
            if self.inflight.settle(message, by="shutdown"):
                waiting.append(message)

    def _hand_back(self, messages: list[InFlightMessage]) -> None:
        """Messages that never started: at once, except on their last receive (released, SQS would
        move them to the DLQ on the next receive without a reason): those are dead-lettered saying so."""
        last = [m for m in messages if self.actions.is_last_receive(m)]
        for message in last:
            self.actions.apply(
                message,
                Verdict(
                    Outcome.INTERRUPTED,
                    reason="not started before the worker shut down",
                    error_type="WorkerShutdown",
                ),
            )
        self.actions.release_all_now([m for m in messages if not self.actions.is_last_receive(m)])

    def _count_sqs_request(self, **_: Any) -> None:
        with self._sqs_requests_lock:
            self.sqs_requests += 1

    def _flush_metrics_periodically(self) -> None:
        while not self.stopping.wait(self.config.metric_flush_seconds):
            self.metrics.flush()
