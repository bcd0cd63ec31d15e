"""Generated configurations: the pack's verdict equals a simply written, independent predicate.

The stacks are built as the engine would hand them over (camelCase properties, numbers as floats,
policies as JSON strings), which keeps each example fast enough for hundreds of them.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from preview.gate import evaluate, load_policies
from preview.mocks import RecordedResource

POLICIES = load_policies()
REGION_ACCOUNT = "us-east-1:123456789012"
MAX_PROCESSING = 900
RECEIVE_COUNT_RANGE = (2, 10)


def resource(type_: str, name: str, props: dict) -> RecordedResource:
    return RecordedResource.from_properties(type_, name, props, stack="generated")


def queue_props(name: str, **extra) -> dict:
    return {
        "name": name,
        "arn": f"arn:aws:sqs:{REGION_ACCOUNT}:{name}",
        "url": f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}",
        "sqsManagedSseEnabled": True,
        "receiveWaitTimeSeconds": 20.0,
        **extra,
    }


def verdict(resources: list[RecordedResource], policy: str) -> bool:
    """True when `policy` reports a violation."""
    return any(v.policy == policy for v in evaluate(resources, POLICIES).violations)


work_queues = st.lists(
    st.fixed_dictionaries(
        {
            "visibility": st.one_of(st.none(), st.integers(0, 43200)),
            "redrive": st.booleans(),
            "max_receive_count": st.integers(0, 20),
            "retention": st.integers(60, 1209600),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(queues=work_queues, dlq_retention=st.integers(60, 1209600))
def test_queue_rules_match_the_predicate(queues, dlq_retention):
    dlq_arn = f"arn:aws:sqs:{REGION_ACCOUNT}:dlq"
    resources = [
        resource(
            "aws:sqs/queue:Queue",
            "dlq",
            queue_props(
                "dlq",
                messageRetentionSeconds=float(dlq_retention),
                redriveAllowPolicy='{"redrivePermission": "allowAll"}',
            ),
        )
    ]
    for position, queue in enumerate(queues):
        props = queue_props(f"work-{position}", messageRetentionSeconds=float(queue["retention"]))
        if queue["visibility"] is not None:
            props["visibilityTimeoutSeconds"] = float(queue["visibility"])
        if queue["redrive"]:
            props["redrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue["max_receive_count"]}
            )
        resources.append(resource("aws:sqs/queue:Queue", f"work-{position}", props))

    expected_visibility = any(
        (q["visibility"] if q["visibility"] is not None else 30) < MAX_PROCESSING for q in queues
    )
    low, high = RECEIVE_COUNT_RANGE
    expected_dlq = any(
        not q["redrive"] or not low <= q["max_receive_count"] <= high or dlq_retention <= q["retention"]
        for q in queues
    )
    assert verdict(resources, "visibility-covers-processing") == expected_visibility
    assert verdict(resources, "dead-letter-queue-required") == expected_dlq


EVENTS = ["s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Copy", "s3:ObjectRemoved:*"]
destination = st.tuples(
    st.sampled_from(EVENTS),
    st.sampled_from(["", "uploads/", "uploads/big/", "other/"]),
    st.sampled_from(["", ".pdf", "big.pdf", ".txt"]),
)


def simple_events_overlap(a: str, b: str) -> bool:
    family_a, kind_a = a.rsplit(":", 1)
    family_b, kind_b = b.rsplit(":", 1)
    return family_a == family_b and (kind_a == kind_b or "*" in (kind_a, kind_b))


def simple_overlap(a: tuple, b: tuple) -> bool:
    (event_a, prefix_a, suffix_a), (event_b, prefix_b, suffix_b) = a, b
    prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
    suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
    return simple_events_overlap(event_a, event_b) and prefixes and suffixes


@settings(max_examples=150, deadline=None)
@given(notifications=st.lists(st.lists(destination, min_size=1, max_size=4), min_size=1, max_size=3))
def test_notification_rule_matches_the_predicate(notifications):
    queue_arn = f"arn:aws:sqs:{REGION_ACCOUNT}:work"
    resources = [
        resource(
            "aws:s3/bucketNotification:BucketNotification",
            f"notification-{position}",
            {
                "bucket": "uploads",
                "queues": [
                    {"queueArn": queue_arn, "events": [event], "filterPrefix": prefix, "filterSuffix": suffix}
                    for event, prefix, suffix in destinations
                ],
            },
        )
        for position, destinations in enumerate(notifications)
    ]
    overlapping = any(
        simple_overlap(first, second)
        for destinations in notifications
        for i, first in enumerate(destinations)
        for second in destinations[i + 1 :]
    )
    expected = len(notifications) > 1 or overlapping
    assert verdict(resources, "one-notification-per-bucket") == expected


ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:*",
    "sqs:SendMessage",
]
QUEUE_A = f"arn:aws:sqs:{REGION_ACCOUNT}:a"
statement = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Allow", "Deny"]),
        "Action": st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True),
        "Resource": st.sampled_from([QUEUE_A, "*"]),
    }
)


def simple_can(statements: list[dict], action: str, resource_name: str) -> bool:
    def covers(s: dict) -> bool:
        acts = s["Action"]
        return (action in acts or "sqs:*" in acts) and s["Resource"] in (resource_name, "*")

    allowed = any(s["Effect"] == "Allow" and covers(s) for s in statements)
    denied = any(s["Effect"] == "Deny" and covers(s) for s in statements)
    return allowed and not denied


@settings(max_examples=200, deadline=None)
@given(statements=st.lists(statement, min_size=1, max_size=4))
def test_consumer_rule_matches_the_predicate(statements):
    resources = [
        resource("aws:iam/policy:Policy", "consumer", {"policy": json.dumps({"Statement": statements})})
    ]
    receive_targets = {
        s["Resource"]
        for s in statements
        if s["Effect"] == "Allow" and ("sqs:ReceiveMessage" in s["Action"] or "sqs:*" in s["Action"])
    }
    expected = any(
        not simple_can(statements, action, target)
        for target in receive_targets
        for action in ("sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
    )
    assert verdict(resources, "consumer-can-delete") == expected
