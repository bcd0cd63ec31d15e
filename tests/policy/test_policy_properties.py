"""Generated configurations: the pack's verdict equals a simply written, independent predicate.

The stacks are built as the engine would hand them over (camelCase properties, numbers as floats,
policies as JSON strings), which keeps each example fast enough for hundreds of them.
"""

from __future__ import annotations

import fnmatch
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from preview.gate import evaluate, load_policies
from preview.mocks import RecordedResource
from tests.hypothesis_profiles import examples

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


@settings(max_examples=examples(150), deadline=None)
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

    # The queues' consumer: a role whose processing time the stack does not show (maxProcessingSeconds).
    consume = {
        "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
        "Resource": f"arn:aws:sqs:{REGION_ACCOUNT}:work-*",
    }
    resources.append(
        resource(
            "aws:iam/rolePolicy:RolePolicy",
            "consumer",
            {"role": "consumer", "policy": json.dumps({"Statement": [consume]})},
        )
    )
    expected_visibility = any(
        (q["visibility"] if q["visibility"] is not None else 30) < MAX_PROCESSING for q in queues
    )
    low, high = RECEIVE_COUNT_RANGE
    # A message that always fails is moved after maxReceiveCount receives of a visibility timeout each; a
    # source retention shorter than that loses it before it is dead-lettered.
    expected_dlq = any(
        not q["redrive"]
        or not low <= q["max_receive_count"] <= high
        or dlq_retention <= q["retention"]
        or q["retention"] < q["max_receive_count"] * (q["visibility"] if q["visibility"] is not None else 30)
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


@settings(max_examples=examples(150), deadline=None)
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


# --- effective IAM permissions against a brute-force evaluator -----------------------------------------

ACCOUNT_ARN = f"arn:aws:sqs:{REGION_ACCOUNT}"
QA, QB, QC = f"{ACCOUNT_ARN}:a", f"{ACCOUNT_ARN}:b", f"{ACCOUNT_ARN}:c"
# Every kind of queue the patterns below can tell apart: the stack's two queues, a named queue outside
# the stack, other queues of the account (one-letter and longer names, for `?`), queue "a" of another
# account, any other queue.
UNIVERSE = [
    QA,
    QB,
    QC,
    f"{ACCOUNT_ARN}:d",
    f"{ACCOUNT_ARN}:work-queue",
    "arn:aws:sqs:eu-west-1:999999999999:a",
    "arn:aws:sqs:eu-west-1:999999999999:e",
]
ACTION_PATTERNS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:*",
    "sqs:Delete*",
    "SQS:receivemessage",
    "sqs:Change*",
    "sqs:SendMessage",
    "*",
]
RESOURCE_PATTERNS = [
    QA,
    QB,
    QC,
    "*",
    "arn:aws:sqs:*",
    f"{ACCOUNT_ARN}:*",
    "arn:aws:sqs:*:*:a",
    f"{ACCOUNT_ARN}:?",
]
MANAGED = {
    "arn:aws:iam::aws:policy/AmazonSQSFullAccess": [
        {"Effect": "Allow", "Action": ["sqs:*"], "Resource": "*"}
    ],
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": [],
}

iam_statement = st.builds(
    lambda effect, not_action, actions, not_resource, resources: {
        "Effect": effect,
        ("NotAction" if not_action else "Action"): actions,
        ("NotResource" if not_resource else "Resource"): resources,
    },
    st.sampled_from(["Allow", "Allow", "Deny"]),
    st.booleans() | st.just(False),
    st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3, unique=True),
    st.sampled_from([False, False, False, True]),
    st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2, unique=True),
)
document = st.lists(iam_statement, min_size=1, max_size=3)
role_graph = st.fixed_dictionaries(
    {
        "inline": st.lists(document, max_size=1),  # Role.inline_policies
        "role_policies": st.lists(document, max_size=2),  # aws.iam.RolePolicy
        "attached": st.lists(document, max_size=1),  # aws.iam.Policy + RolePolicyAttachment
        "shared": st.lists(document, max_size=1),  # aws.iam.Policy + PolicyAttachment(roles=[...])
        "managed": st.lists(st.sampled_from(sorted(MANAGED)), max_size=2, unique=True),
        "boundary": st.none() | document,
    }
)


def _glob(pattern: str, value: str, fold: bool) -> bool:
    """IAM wildcards, written independently of the pack: fnmatch without character classes."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def brute_force_allows(
    documents: list[list[dict]], boundary: list[dict] | None, action: str, arn: str
) -> bool:
    def applies(statement: dict) -> bool:
        if "Action" in statement:
            action_hit = any(_glob(p, action, True) for p in statement["Action"])
        else:
            action_hit = not any(_glob(p, action, True) for p in statement["NotAction"])
        if "Resource" in statement:
            resource_hit = any(_glob(p, arn, False) for p in statement["Resource"])
        else:
            resource_hit = not any(_glob(p, arn, False) for p in statement["NotResource"])
        return action_hit and resource_hit

    identity = [s for d in documents for s in d]
    everything = identity + (boundary or [])
    if any(s["Effect"] == "Deny" and applies(s) for s in everything):
        return False
    if boundary is not None and not any(s["Effect"] == "Allow" and applies(s) for s in boundary):
        return False
    return any(s["Effect"] == "Allow" and applies(s) for s in identity)


def role_resources(position: int, graph: dict) -> list[RecordedResource]:
    name = f"role-{position}"
    role_arn = f"arn:aws:iam::123456789012:role/{name}"
    props: dict = {"name": name, "arn": role_arn, "id": name}
    props["inlinePolicies"] = [
        {"name": f"inline-{i}", "policy": json.dumps({"Version": "2012-10-17", "Statement": d})}
        for i, d in enumerate(graph["inline"])
    ]
    props["managedPolicyArns"] = list(graph["managed"])
    resources = []
    if graph["boundary"] is not None:
        boundary_arn = f"arn:aws:iam::123456789012:policy/{name}-boundary"
        props["permissionsBoundary"] = boundary_arn
        resources.append(
            resource(
                "aws:iam/policy:Policy",
                f"{name}-boundary",
                {"arn": boundary_arn, "policy": json.dumps({"Statement": graph["boundary"]})},
            )
        )
    resources.append(resource("aws:iam/role:Role", name, props))
    for i, d in enumerate(graph["role_policies"]):
        resources.append(
            resource(
                "aws:iam/rolePolicy:RolePolicy",
                f"{name}-p{i}",
                {"role": name, "policy": json.dumps({"Statement": d})},
            )
        )
    for i, d in enumerate(graph["attached"]):
        arn = f"arn:aws:iam::123456789012:policy/{name}-a{i}"
        resources.append(
            resource(
                "aws:iam/policy:Policy", f"{name}-a{i}", {"arn": arn, "policy": json.dumps({"Statement": d})}
            )
        )
        resources.append(
            resource(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                f"{name}-att{i}",
                {"role": name, "policyArn": arn},
            )
        )
    for i, d in enumerate(graph["shared"]):
        arn = f"arn:aws:iam::123456789012:policy/{name}-s{i}"
        resources.append(
            resource(
                "aws:iam/policy:Policy", f"{name}-s{i}", {"arn": arn, "policy": json.dumps({"Statement": d})}
            )
        )
        resources.append(
            resource(
                "aws:iam/policyAttachment:PolicyAttachment",
                f"{name}-share{i}",
                {"roles": [name], "policyArn": arn},
            )
        )
    return resources


def brute_force_violation(graph: dict) -> bool:
    documents = graph["inline"] + graph["role_policies"] + graph["attached"] + graph["shared"]
    documents += [MANAGED[arn] for arn in graph["managed"]]
    for arn in UNIVERSE:

        def can(action: str, arn: str = arn) -> bool:
            return brute_force_allows(documents, graph["boundary"], action, arn)

        if can("sqs:ReceiveMessage") and not (
            can("sqs:DeleteMessage") and can("sqs:ChangeMessageVisibility")
        ):
            return True
    return False


@settings(max_examples=examples(300), deadline=None)
@given(graphs=st.lists(role_graph, min_size=1, max_size=2))
def test_consumer_rule_matches_a_brute_force_evaluator(graphs):
    """The pack's verdict equals enumerating every action x every kind of queue ARN for every role."""
    resources = [
        resource("aws:sqs/queue:Queue", name, queue_props(name, visibilityTimeoutSeconds=900.0))
        for name in ("a", "b")
    ]
    for position, graph in enumerate(graphs):
        resources += role_resources(position, graph)
    expected = any(brute_force_violation(graph) for graph in graphs)
    assert verdict(resources, "consumer-can-delete") == expected
