"""Drift and missing resources: each thing the stack declares, next to what the live pipeline has.

Every difference is a finding with a level, counted by the exit code like a policy violation:
`mandatory` when it stops uploads being indexed or removes a safeguard (a missing bucket, queue,
DLQ, Auto Scaling Group or alarm; a notification missing, duplicated or pointed elsewhere; a queue
policy that no longer lets the bucket send; a redrive policy removed or changed; a visibility or
retention shortened; a public access block or bucket policy statement removed), `advisory` when the
live setting differs without weakening anything (a longer retention, an extra statement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from audit.declared import DEAD_LETTER_QUEUE, PUBLIC_ACCESS_BLOCK_SETTINGS, DeclaredStack
from audit.documents import (
    bucket_may_send,
    localize,
    missing_statements,
    redrive_allows,
)
from audit.live_state import LiveState, notification_props, redrive

MANDATORY, ADVISORY = "mandatory", "advisory"

QUEUE_SETTINGS = (
    # (input, attribute, SQS default, shorter live value is a weakened safeguard)
    ("visibilityTimeoutSeconds", "VisibilityTimeout", 30, True),
    ("messageRetentionSeconds", "MessageRetentionPeriod", 345600, True),
    ("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds", 0, False),
)


@dataclass(frozen=True)
class Finding:
    level: str
    resource: str
    setting: str
    declared: Any
    live: Any
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "resource": self.resource,
            "setting": self.setting,
            "declared": self.declared,
            "live": self.live,
            "message": self.message,
        }

    def line(self) -> str:
        return f"[{self.level}] {self.resource}: {self.message}"


def find_drift(declared: DeclaredStack, live: LiveState) -> list[Finding]:
    findings: list[Finding] = []
    nothing_found = _nothing_regional_found(declared, live)
    if nothing_found:
        findings.append(nothing_found)
    findings += _queues(declared, live)
    findings += _buckets(declared, live)
    if declared.group_name and live.group is None:
        findings.append(
            Finding(
                MANDATORY,
                f"auto scaling group {declared.group_name}",
                "exists",
                True,
                False,
                f"not found in {live.region}: no worker processes the queue",
            )
        )
    live_alarms = {alarm["AlarmName"]: alarm for alarm in live.alarms}
    for name, inputs in declared.alarms.items():
        alarm = live_alarms.get(name)
        if alarm is None:
            findings.append(
                Finding(MANDATORY, f"alarm {name}", "exists", True, False, f"not found in {live.region}")
            )
        elif float(alarm.get("Threshold", 0)) != float(inputs["threshold"]):
            findings.append(
                Finding(
                    ADVISORY,
                    f"alarm {name}",
                    "threshold",
                    inputs["threshold"],
                    alarm.get("Threshold"),
                    f"threshold {alarm.get('Threshold'):g}, the stack declares {float(inputs['threshold']):g}",
                )
            )
    return findings


def _nothing_regional_found(declared: DeclaredStack, live: LiveState) -> Finding | None:
    """One plain line when none of the stack's regional resources exist: wrong region or account."""
    expected = len(declared.queues) + len(declared.alarms) + (1 if declared.group_name else 0)
    found = len(live.queues) + len(live.alarms) + (1 if live.group is not None else 0)
    if expected == 0 or found:
        return None
    hint = (
        f" (the stack declares {declared.region})"
        if declared.region != live.region
        else " (the stack's own region)"
    )
    return Finding(
        MANDATORY,
        f"region {live.region}",
        "stack resources found",
        expected,
        0,
        f"none of the stack's queues, alarms or Auto Scaling Group exist here{hint}: wrong region or account?",
    )


def _queues(declared: DeclaredStack, live: LiveState) -> list[Finding]:
    findings = []
    for name, inputs in declared.queues.items():
        role = declared.role(name)
        resource = f"queue {name} ({role})" if role != "queue" else f"queue {name}"
        attributes = live.queues.get(name)
        if attributes is None:
            consequence = {
                DEAD_LETTER_QUEUE: "failing messages have nowhere to go",
                "work queue": "uploads are not queued or processed",
            }.get(role, "")
            findings.append(
                Finding(
                    MANDATORY,
                    resource,
                    "exists",
                    True,
                    False,
                    f"not found in {live.region}" + (f": {consequence}" if consequence else ""),
                )
            )
            continue
        for key, attribute, default, shorter_is_weaker in QUEUE_SETTINGS:
            want = int(float(inputs.get(key, default)))
            have = int(float(attributes.get(attribute, default)))
            if want != have:
                level = MANDATORY if shorter_is_weaker and have < want else ADVISORY
                findings.append(
                    Finding(level, resource, key, want, have, f"{key} is {have}, the stack declares {want}")
                )
        findings += _redrive(name, resource, inputs, attributes)
        findings += _redrive_allow(declared, live, name, resource, attributes)
        findings += _queue_policy(declared, live, name, resource, attributes)
    return findings


def _redrive(name: str, resource: str, inputs: dict[str, Any], attributes: dict[str, str]) -> list[Finding]:
    want = json.loads(inputs["redrivePolicy"]) if inputs.get("redrivePolicy") else None
    have = redrive(attributes)
    if not want:
        return []
    want_target = str(want["deadLetterTargetArn"]).rsplit(":", 1)[-1]
    if not have:
        return [
            Finding(
                MANDATORY,
                resource,
                "redrivePolicy",
                want["maxReceiveCount"],
                None,
                f"redrive policy removed: failing messages are no longer moved to {want_target}",
            )
        ]
    findings = []
    if int(have["maxReceiveCount"]) != int(want["maxReceiveCount"]):
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "redrivePolicy.maxReceiveCount",
                want["maxReceiveCount"],
                have["maxReceiveCount"],
                f"maxReceiveCount is {have['maxReceiveCount']}, the stack declares {want['maxReceiveCount']}",
            )
        )
    have_target = str(have["deadLetterTargetArn"]).rsplit(":", 1)[-1]
    if want_target != have_target:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "redrivePolicy.deadLetterTarget",
                want_target,
                have_target,
                f"dead letters go to {have_target}, the stack declares {want_target}",
            )
        )
    return findings


def _redrive_allow(
    declared: DeclaredStack, live: LiveState, name: str, resource: str, attributes: dict[str, str]
) -> list[Finding]:
    """The DLQ's redrive-allow policy: which source queues may use it (SQS: RedriveAllowPolicy)."""
    want_text = declared.redrive_allow_policies.get(name)
    if want_text is None:
        return []
    want = json.loads(localize(want_text, declared, live))
    have_text = attributes.get("RedriveAllowPolicy")
    have = json.loads(have_text) if have_text else None
    if have == want:
        return []
    sources = [work for work, dlq in declared.dead_letter_targets.items() if dlq == name]
    blocked = [
        source
        for source in sources
        if source in live.queues and not redrive_allows(have, live.queues[source].get("QueueArn", ""))
    ]
    if blocked:
        return [
            Finding(
                MANDATORY,
                resource,
                "redriveAllowPolicy",
                want,
                have,
                f"redrive-allow policy no longer lets {', '.join(blocked)} use it as its dead-letter queue",
            )
        ]
    what = (
        "removed: any queue may use it as its dead-letter queue" if have is None else "differs from the stack"
    )
    return [Finding(ADVISORY, resource, "redriveAllowPolicy", want, have, f"redrive-allow policy {what}")]


def _queue_policy(
    declared: DeclaredStack, live: LiveState, name: str, resource: str, attributes: dict[str, str]
) -> list[Finding]:
    """The queue policy: S3's permission to send the declared notifications, then the declared statements."""
    findings = []
    have_text = attributes.get("Policy")
    queue_arn = attributes.get("QueueArn", "")
    senders = [
        bucket
        for bucket, entries in declared.notifications.items()
        if any(entry["queue"] == name for entry in entries)
    ]
    refused = [
        bucket for bucket in senders if not bucket_may_send(have_text, queue_arn, bucket, live.account)
    ]
    for bucket in refused:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "policy",
                f"s3.amazonaws.com may send from {bucket}",
                "no policy" if not have_text else "not allowed",
                f"queue policy no longer lets bucket {bucket} send (sqs:SendMessage from s3.amazonaws.com): "
                "uploads are not queued",
            )
        )
    want_text = declared.queue_policies.get(name)
    if want_text is None or refused:
        return findings
    want = localize(want_text, declared, live)
    lost, extra = missing_statements(want, have_text), missing_statements(have_text, want)
    if lost or extra:
        findings.append(
            Finding(
                ADVISORY,
                resource,
                "policy",
                json.loads(want),
                json.loads(have_text) if have_text else None,
                f"queue policy differs from the stack: {len(lost)} declared statement(s) changed or removed, "
                f"{len(extra)} undeclared statement(s)",
            )
        )
    return findings


def _buckets(declared: DeclaredStack, live: LiveState) -> list[Finding]:
    findings = []
    for bucket in declared.buckets:
        configuration = live.notifications.get(bucket)
        if configuration is None:
            consequence = ": uploads are not stored or indexed" if bucket in declared.notifications else ""
            findings.append(
                Finding(MANDATORY, f"bucket {bucket}", "exists", True, False, f"not found{consequence}")
            )
            continue
        if bucket in declared.notifications:
            findings += _notification(declared, live, bucket, configuration)
        findings += _public_access_block(declared, live, bucket)
        findings += _bucket_policy(declared, live, bucket)
    return findings


def _notification(
    declared: DeclaredStack, live: LiveState, bucket: str, configuration: dict[str, Any]
) -> list[Finding]:
    want = declared.notifications[bucket]
    props = notification_props(bucket, configuration)
    have = [
        {
            "queue": str(queue["queueArn"]).rsplit(":", 1)[-1],
            "events": list(queue["events"]),
            "prefix": queue["filterPrefix"],
            "suffix": queue["filterSuffix"],
        }
        for queue in props["queues"]
    ]
    resource = f"bucket {bucket}"
    setting = "notification queue configurations"
    findings = []
    want_queues = sorted({entry["queue"] for entry in want})
    have_queues = sorted({entry["queue"] for entry in have})
    if _canonical(have) != _canonical(want):
        if not have:
            message = f"no event notification to {', '.join(want_queues)}: uploads are not indexed"
        elif not set(want_queues) & set(have_queues):
            message = (
                f"notification sends to {', '.join(have_queues)} instead of {', '.join(want_queues)}: "
                "uploads are not indexed"
            )
        elif len(have) > len(want):
            message = (
                f"{len(have)} notification configurations where the stack declares {len(want)}: "
                "each upload can be queued more than once"
            )
        else:
            message = "notification differs from the stack (events, filter or target)"
        findings.append(Finding(MANDATORY, resource, setting, want, have, message))
    others = len(props["topics"]) + len(props["lambdaFunctions"])
    if others:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "notification topic/lambda destinations",
                0,
                others,
                f"{others} topic/Lambda destination(s) the stack does not declare: uploads delivered twice",
            )
        )
    if props["eventbridge"]:
        findings.append(
            Finding(
                MANDATORY,
                resource,
                "notification EventBridge delivery",
                False,
                True,
                "EventBridge delivery on, which the stack does not declare: uploads delivered twice",
            )
        )
    return findings


def _public_access_block(declared: DeclaredStack, live: LiveState, bucket: str) -> list[Finding]:
    want = declared.public_access_blocks.get(bucket)
    if want is None:
        return []
    block = live.buckets.get(bucket, {}).get("public_access_block")
    have = {key: bool((block or {}).get(key, False)) for key in PUBLIC_ACCESS_BLOCK_SETTINGS}
    loosened = [key for key in PUBLIC_ACCESS_BLOCK_SETTINGS if want[key] and not have[key]]
    if loosened:
        what = "removed" if block is None else f"{', '.join(loosened)} turned off"
        return [
            Finding(
                MANDATORY, f"bucket {bucket}", "publicAccessBlock", want, block, f"public access block {what}"
            )
        ]
    if have != want:
        return [
            Finding(
                ADVISORY,
                f"bucket {bucket}",
                "publicAccessBlock",
                want,
                block,
                "public access block differs from the stack",
            )
        ]
    return []


def _bucket_policy(declared: DeclaredStack, live: LiveState, bucket: str) -> list[Finding]:
    want_text = declared.bucket_policies.get(bucket)
    if want_text is None:
        return []
    have_text = live.buckets.get(bucket, {}).get("policy")
    want_localized = localize(want_text, declared, live)
    lost = missing_statements(want_localized, have_text)
    have = json.loads(have_text) if have_text else None
    if lost:
        sids = ", ".join(str(statement.get("Sid", "(no Sid)")) for statement in lost)
        what = "removed" if have is None else f"statement(s) {sids} removed or changed"
        return [
            Finding(
                MANDATORY,
                f"bucket {bucket}",
                "policy",
                json.loads(want_localized),
                have,
                f"bucket policy {what}",
            )
        ]
    extra = missing_statements(have_text, want_localized) if have_text else []
    if extra:
        return [
            Finding(
                ADVISORY,
                f"bucket {bucket}",
                "policy",
                json.loads(want_localized),
                have,
                f"bucket policy has {len(extra)} statement(s) the stack does not declare",
            )
        ]
    return []


def _canonical(configurations: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(configuration, sort_keys=True) for configuration in configurations)
