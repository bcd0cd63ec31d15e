"""Find the two queues, prove the DLQ is one, and read it without taking messages away from anyone.

SQS has no "peek": a message can only be read by receiving it, which hides it for the visibility
timeout. So reading receives with a short visibility, remembers every message by id, and hands all
of them back (`ChangeMessageVisibility` to 0) as soon as they are counted, so the next command, the
console or a redrive sees them at once. A crash in between costs at most that short visibility.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

from dlq.letters import DeadLetter
from worker.aws_setup import AwsSetupError, is_loopback_url, require_aws_settings, use_local_placeholders
from worker.contract import SQS_MAX_VISIBILITY_SECONDS

CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
"""Short connect timeout (a wrong endpoint fails in seconds); reads outlast the 1 s long polls."""
SQS_BATCH = 10
RECEIVE_WAIT_SECONDS = 1
"""Long polling: an empty answer means the queue has nothing visible, not "this server had none"."""
SCAN_VISIBILITY_SECONDS = 30
SCAN_MESSAGES_PER_SECOND = 100
"""A conservative reading rate: the visibility grows with the queue so a long scan keeps its messages."""
MOVE_MESSAGES_PER_SECOND = 10
"""A conservative one-at-a-time moving rate (three calls and three fsyncs a message)."""
STALE_RECEIVES = 3
MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
NO_PERMISSION = {
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "KMS.AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "SignatureDoesNotMatch",
}


class DlqError(Exception):
    """A setup problem reported as one line (exit 2) before anything is changed."""


AWS_QUEUE_URL = re.compile(
    r"https://(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)/"
)
"""An AWS queue URL names its region (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or the legacy
`https://REGION.queue.amazonaws.com/...`)."""


def region_of(url: str | None) -> str | None:
    match = AWS_QUEUE_URL.match(url or "")
    return (match.group(1) or match.group(2)) if match else None


def local_endpoint_of(url: str | None) -> str | None:
    """`scheme://host:port` of a loopback queue URL (a local AWS names its queues under its own address)."""
    if not is_loopback_url(url):
        return None
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}"


def region_of_arn(arn: Any) -> str | None:
    """The region an SQS ARN names (`arn:aws:sqs:REGION:ACCOUNT:NAME`), else None."""
    parts = str(arn or "").split(":")
    return parts[3] if len(parts) >= 6 and parts[2] == "sqs" and parts[3] else None


def sqs_client(dlq_url: str, queue_url: str | None = None, region_hint: str | None = None) -> Any:
    """boto3's SQS client (AWS, or moto through AWS_ENDPOINT_URL), with timeouts. The region an AWS queue
    URL names wins over AWS_REGION/AWS_DEFAULT_REGION: the JSON protocol sends every call to the client's
    regional endpoint, whatever the URL says, so a DLQ of another region would read as "does not exist".
    A DLQ lives in the same account and region as its source queue:
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    A loopback DLQ URL (a local AWS) is its own endpoint when AWS_ENDPOINT_URL is not set; there, local
    placeholders stand in for missing credentials and region (`region_hint`: the region of the stack
    outputs' ARNs, where the local AWS keeps the queues).
    """
    dlq_region, queue_region = region_of(dlq_url), region_of(queue_url)
    if dlq_region and queue_region and dlq_region != queue_region:
        raise DlqError(
            f"--dlq-url is in {dlq_region} but --queue-url is in {queue_region}: a DLQ is in its source "
            "queue's region; pass the two URLs of one pipeline"
        )
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
    explicit = {}
    if not endpoint and local_endpoint_of(dlq_url):
        endpoint = local_endpoint_of(dlq_url)
        explicit["endpoint_url"] = endpoint
    region = dlq_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    placeholders = use_local_placeholders(region or region_hint, endpoint=endpoint)
    if placeholders:
        print(placeholders, file=sys.stderr)
        region = region or os.environ.get("AWS_DEFAULT_REGION")
    else:
        try:
            require_aws_settings(region)
        except AwsSetupError as error:
            raise DlqError(str(error)) from None
    try:
        return boto3.session.Session(region_name=region).client("sqs", config=CLIENT_CONFIG, **explicit)
    except ValueError as error:  # botocore: "Invalid endpoint: ..." for a malformed AWS_ENDPOINT_URL
        raise DlqError(
            f"AWS_ENDPOINT_URL={endpoint!r} is not a usable endpoint ({error}): set it to "
            "http(s)://HOST:PORT (e.g. moto server's), or unset it to use AWS"
        ) from None


def stack_outputs(outputs_file: Path | None, stack: str | None) -> dict[str, Any]:
    """The stack outputs: from FILE (a JSON object, e.g. `python -m sandbox.deploy --json`), else from
    the Pulumi CLI's `pulumi stack output --json` when it is installed, else {}."""
    if outputs_file is not None:
        try:
            document = json.loads(outputs_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DlqError(f"{outputs_file}: cannot read stack outputs ({error})") from None
        if not isinstance(document, dict):
            raise DlqError(f"{outputs_file}: stack outputs must be a JSON object with queueUrl and dlqUrl")
        return document
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        return {}
    command = [pulumi, "stack", "output", "--json", *(["--stack", stack] if stack else [])]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        document = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        document = None
    return document if isinstance(document, dict) else {}


def resolve_urls(
    dlq_url: str | None, queue_url: str | None, outputs_file: Path | None = None, stack: str | None = None
) -> tuple[str, str | None]:
    if not dlq_url or (not queue_url and outputs_file is not None):
        outputs = stack_outputs(outputs_file, stack)
        dlq_url = dlq_url or outputs.get("dlqUrl")
        queue_url = queue_url or outputs.get("queueUrl")
    if not dlq_url:
        raise DlqError(
            "no DLQ URL: pass --dlq-url (and --queue-url), or --stack-outputs FILE holding a JSON object "
            "with dlqUrl and queueUrl (what `python -m sandbox.deploy --json` prints); "
            "`pulumi stack output --json` gave none (is the Pulumi CLI installed and the stack selected?)"
        )
    return str(dlq_url), str(queue_url) if queue_url else None


def describe(error: Exception, action: str, url: str) -> DlqError:
    """One line for an AWS error: missing queue, no permission, or whatever AWS said."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        if code in MISSING_QUEUE:
            return DlqError(f"queue does not exist: {url}")
        if is_permission_error(error):
            return DlqError(f"no permission to {action} on {url}: {code}: {message}".rstrip(": "))
        return DlqError(f"{action} on {url} failed: {code}: {message.strip().splitlines()[0]}")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        where = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
        fix = (
            f"is the server at AWS_ENDPOINT_URL={where} running?"
            if where
            else "check the network and AWS_REGION"
        )
        return DlqError(f"{action} on {url}: cannot reach the SQS endpoint ({error}); {fix}")
    return DlqError(f"{action} on {url} failed: {type(error).__name__}: {error}")


def is_permission_error(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in NO_PERMISSION or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403


def name_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Queues:
    """The DLQ and the work queue it serves, checked: the DLQ really is that queue's redrive target."""

    sqs: Any
    dlq_url: str
    dlq_arn: str
    queue_url: str | None
    queue_arn: str | None
    dlq_depth: int
    """ApproximateNumberOfMessages + ...NotVisible when the queues were opened."""
    dlq_in_flight: int = 0
    """ApproximateNumberOfMessagesNotVisible then: held by another reader, so not seen by this one."""

    def require_queue(self) -> tuple[str, str]:
        """The work queue to move dead letters to; refused when there is no single one, or when it is the
        DLQ itself (a queue whose RedrivePolicy targets itself: every copy would land back in the DLQ
        and be moved again, without end)."""
        if not self.queue_url or not self.queue_arn:
            raise DlqError(
                f"several queues use {name_of(self.dlq_url)} as their DLQ: pass --queue-url to choose one"
            )
        if self.queue_arn == self.dlq_arn:
            raise DlqError(
                f"{name_of(self.dlq_url)} is its own dead-letter queue (its RedrivePolicy targets itself): "
                "moving would send each message back into the queue it is read from, again and again; "
                "point its RedrivePolicy at a separate DLQ first; nothing changed"
            )
        return self.queue_url, self.queue_arn


def open_queues(sqs: Any, dlq_url: str, queue_url: str | None) -> Queues:
    """Read-only checks (GetQueueAttributes, ListDeadLetterSourceQueues); raises DlqError, changes nothing.

    A DLQ is "a queue that other queues target" (their RedrivePolicy's deadLetterTargetArn):
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    """
    dlq = _attributes(
        sqs,
        dlq_url,
        ["QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "RedrivePolicy"],
    )
    dlq_arn = dlq["QueueArn"]
    in_flight = int(dlq.get("ApproximateNumberOfMessagesNotVisible", 0))
    depth = int(dlq.get("ApproximateNumberOfMessages", 0)) + in_flight
    if queue_url:
        work = _attributes(sqs, queue_url, ["QueueArn", "RedrivePolicy"])
        target = _redrive_target(work.get("RedrivePolicy"))
        if target != dlq_arn:
            raise DlqError(
                f"{name_of(dlq_url)} is not the dead-letter queue of {name_of(queue_url)} "
                f"(its RedrivePolicy targets {name_of(target) if target else 'no queue'}): nothing changed"
            )
        queues = Queues(sqs, dlq_url, dlq_arn, queue_url, work["QueueArn"], depth, in_flight)
        _warn_of_onward_redrive(dlq_url, dlq.get("RedrivePolicy"))
        return queues
    sources: list[str] = []
    try:
        for page in sqs.get_paginator("list_dead_letter_source_queues").paginate(QueueUrl=dlq_url):
            sources.extend(page.get("queueUrls", []))
    except (ClientError, BotoCoreError) as error:
        raise describe(error, "ListDeadLetterSourceQueues", dlq_url) from None
    if not sources:
        raise DlqError(
            f"{name_of(dlq_url)} is no queue's dead-letter queue (no queue's RedrivePolicy targets it): "
            "pass the DLQ as --dlq-url; nothing changed"
        )
    elif len(sources) > 1:
        queues = Queues(sqs, dlq_url, dlq_arn, None, None, depth, in_flight)
    else:
        work = _attributes(sqs, sources[0], ["QueueArn"])
        queues = Queues(sqs, dlq_url, dlq_arn, sources[0], work["QueueArn"], depth, in_flight)
    _warn_of_onward_redrive(dlq_url, dlq.get("RedrivePolicy"))
    return queues


def _warn_of_onward_redrive(dlq_url: str, policy: str | None) -> None:
    onward = _redrive_target(policy)
    if onward:
        # every read is a receive: after maxReceiveCount reads SQS would move dead letters on
        print(
            f"dlq: warning: {name_of(dlq_url)} has a RedrivePolicy of its own (to {name_of(onward)}): "
            "each read counts as a receive, and enough reads move its messages there",
            file=sys.stderr,
        )


def _attributes(sqs: Any, url: str, names: list[str]) -> dict[str, str]:
    try:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    except (ClientError, BotoCoreError) as error:
        raise describe(error, "GetQueueAttributes", url) from None


def _redrive_target(policy: str | None) -> str | None:
    if not policy:
        return None
    try:
        return json.loads(policy).get("deadLetterTargetArn")
    except (ValueError, AttributeError):
        return None


def scan_visibility_seconds(expected_messages: int) -> int:
    """Long enough to read the whole queue once at SCAN_MESSAGES_PER_SECOND, never less than 30 s."""
    return SCAN_VISIBILITY_SECONDS + expected_messages // SCAN_MESSAGES_PER_SECOND


def move_visibility_seconds(expected_messages: int, rate: float | None = None) -> int:
    """A move holds the messages it does not move until it ends: long enough to move them all at
    `rate` (or MOVE_MESSAGES_PER_SECOND), so none reappears mid-run; SQS caps visibility at 12 h."""
    moving_seconds = -(-expected_messages // (rate or MOVE_MESSAGES_PER_SECOND))
    return int(min(scan_visibility_seconds(expected_messages) + moving_seconds, SQS_MAX_VISIBILITY_SECONDS))


@dataclass
class Hold:
    """Messages received from a queue and hidden for a short while; `release()` hands back every one
    not settled (deleted or moved) with visibility 0. Use as a context manager: released on any exit."""

    sqs: Any
    url: str
    visibility_seconds: int = SCAN_VISIBILITY_SECONDS
    letters: dict[str, DeadLetter] = field(default_factory=dict)
    settled: set[str] = field(default_factory=set)

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def receive(self) -> tuple[list[DeadLetter], bool]:
        """One receive: (the messages not seen before, whether anything came at all). A message seen
        before (its visibility ran out during a long run) keeps only its newest receipt handle."""
        response = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=SQS_BATCH,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            VisibilityTimeout=self.visibility_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        new = []
        for message in messages:
            letter = DeadLetter.from_message(message)
            if letter.message_id not in self.letters:
                new.append(letter)
            self.letters[letter.message_id] = letter
        return new, bool(messages)

    def batches(self) -> Iterator[list[DeadLetter]]:
        """Receive until the queue shows nothing new: an empty receive, or a few receives in a row of
        messages already held (their visibility ran out; a long move sizes it so that this is rare)."""
        stale = 0
        while True:
            new, received = self.receive()
            if not received:
                return
            stale = 0 if new else stale + 1
            if stale >= STALE_RECEIVES:
                return
            if new:
                yield new

    def read_all(self) -> list[DeadLetter]:
        for _ in self.batches():
            pass
        return [letter for key, letter in self.letters.items() if key not in self.settled]

    def settle(self, message_id: str) -> None:
        self.settled.add(message_id)

    def release(self) -> int:
        """Make every unsettled held message visible again at once; returns how many were released."""
        pending = [
            letter
            for key, letter in self.letters.items()
            if key not in self.settled and letter.receipt_handle
        ]
        released = 0
        for start in range(0, len(pending), SQS_BATCH):
            chunk = pending[start : start + SQS_BATCH]
            try:
                response = self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                        for i, letter in enumerate(chunk)
                    ],
                )
                released += len(response.get("Successful", []))
            except (ClientError, BotoCoreError):
                continue  # they reappear when their short visibility ends anyway
        for letter in pending:
            self.settled.add(letter.message_id)
        return released


def wait_for(condition: Any, timeout_seconds: float, interval_seconds: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_seconds)
