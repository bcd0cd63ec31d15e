"""Drift: each setting the stack declares, next to the value the live pipeline has."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from audit.declared import DeclaredStack
from audit.live_state import LiveState, notification_props, redrive

QUEUE_SETTINGS = (
    ("visibilityTimeoutSeconds", "VisibilityTimeout", 30),
    ("messageRetentionSeconds", "MessageRetentionPeriod", 345600),
    ("receiveWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds", 0),
)


@dataclass(frozen=True)
class Drift:
    resource: str
    setting: str
    declared: Any
    live: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "setting": self.setting,
            "declared": self.declared,
            "live": self.live,
        }


def find_drift(declared: DeclaredStack, live: LiveState) -> list[Drift]:
    drifts: list[Drift] = []
    for name, inputs in declared.queues.items():
        attributes = live.queues.get(name)
        if attributes is None:
            drifts.append(Drift(f"queue {name}", "exists", True, False))
            continue
        for key, attribute, default in QUEUE_SETTINGS:
            want = int(inputs.get(key, default))
            have = int(attributes.get(attribute, default))
            if want != have:
                drifts.append(Drift(f"queue {name}", key, want, have))
        want_redrive = json.loads(inputs["redrivePolicy"]) if inputs.get("redrivePolicy") else None
        have_redrive = redrive(attributes)
        if want_redrive and not have_redrive:
            drifts.append(Drift(f"queue {name}", "redrivePolicy", want_redrive["maxReceiveCount"], None))
        elif want_redrive and have_redrive:
            if int(have_redrive["maxReceiveCount"]) != int(want_redrive["maxReceiveCount"]):
                drifts.append(
                    Drift(
                        f"queue {name}",
                        "redrivePolicy.maxReceiveCount",
                        want_redrive["maxReceiveCount"],
                        have_redrive["maxReceiveCount"],
                    )
                )
            want_target = want_redrive["deadLetterTargetArn"].rsplit(":", 1)[-1]
            have_target = str(have_redrive["deadLetterTargetArn"]).rsplit(":", 1)[-1]
            if want_target != have_target:
                drifts.append(
                    Drift(f"queue {name}", "redrivePolicy.deadLetterTarget", want_target, have_target)
                )
    for bucket, want in declared.notifications.items():
        configuration = live.notifications.get(bucket)
        if configuration is None:
            drifts.append(Drift(f"bucket {bucket}", "exists", True, False))
            continue
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
        if _canonical(have) != _canonical(want):
            drifts.append(Drift(f"bucket {bucket}", "notification queue configurations", want, have))
        others = len(props["topics"]) + len(props["lambdaFunctions"])
        if others:
            drifts.append(Drift(f"bucket {bucket}", "notification topic/lambda destinations", 0, others))
        if props["eventbridge"]:
            drifts.append(Drift(f"bucket {bucket}", "notification EventBridge delivery", False, True))
    if declared.group_name and live.group is None:
        drifts.append(Drift(f"auto scaling group {declared.group_name}", "exists", True, False))
    live_alarms = {alarm["AlarmName"]: alarm for alarm in live.alarms}
    for name, inputs in declared.alarms.items():
        alarm = live_alarms.get(name)
        if alarm is None:
            drifts.append(Drift(f"alarm {name}", "exists", True, False))
        elif float(alarm.get("Threshold", 0)) != float(inputs["threshold"]):
            drifts.append(Drift(f"alarm {name}", "threshold", inputs["threshold"], alarm.get("Threshold")))
    return drifts


def _canonical(configurations: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(configuration, sort_keys=True) for configuration in configurations)
