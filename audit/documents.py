"""Policy documents compared across the declared and the live stack, and the one question the audit
asks of a queue policy: may S3 still send this bucket's notifications?

The evaluation follows IAM's order for a resource policy (an explicit Deny beats any Allow; without
an Allow nothing is allowed: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
for S3's request to SQS (https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html):
principal service `s3.amazonaws.com`, action `sqs:SendMessage`, the queue's ARN, with the
`aws:SourceArn` (the bucket) and `aws:SourceAccount` keys. Condition keys other than those (and
`aws:SecureTransport`) are taken as satisfied: the audit reports what the policy certainly refuses.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.declared import DeclaredStack
    from audit.live_state import LiveState

S3_SERVICE = "s3.amazonaws.com"
SEND_ACTION = "sqs:SendMessage"


def localize(document: str, declared: DeclaredStack, live: LiveState) -> str:
    """A declared document with the offline render's ARNs and account replaced by the live ones."""
    for name, arn in declared.queue_arns.items():
        live_arn = live.queues.get(name, {}).get("QueueArn")
        if live_arn:
            document = document.replace(arn, live_arn)
    mock, account = declared.mock_account, live.account
    if mock and account and mock != account:
        document = document.replace(f":{mock}:", f":{account}:").replace(f'"{mock}"', f'"{account}"')
    return document


def statements(document: str | dict[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    parsed = json.loads(document) if isinstance(document, str) else document
    found = parsed.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def _canonical(value: Any) -> Any:
    """Order and one-element lists do not change a policy's meaning; nor does a statement's Sid."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items() if key != "Sid"}
    if isinstance(value, list):
        items = [_canonical(item) for item in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def missing_statements(
    wanted: str | dict[str, Any] | None, have: str | dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The statements of `wanted` that `have` does not hold (compared without Sid, order or list shape)."""
    present = {json.dumps(_canonical(statement), sort_keys=True) for statement in statements(have)}
    return [
        statement
        for statement in statements(wanted)
        if json.dumps(_canonical(statement), sort_keys=True) not in present
    ]


def redrive_allows(policy: dict[str, Any] | None, source_queue_arn: str) -> bool:
    """Whether a DLQ's redrive-allow policy lets `source_queue_arn` use it (no policy: allowAll).

    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
    """
    if not policy:
        return True
    permission = policy.get("redrivePermission", "allowAll")
    if permission == "allowAll":
        return True
    if permission == "denyAll":
        return False
    return source_queue_arn in policy.get("sourceQueueArns", [])


def bucket_may_send(policy: str | None, queue_arn: str, bucket: str, account: str | None) -> bool:
    """Whether the queue policy lets S3 send `bucket`'s event notifications to the queue."""
    context = {
        "aws:sourcearn": f"arn:aws:s3:::{bucket}",
        "aws:sourceaccount": account or "",
        "aws:securetransport": "true",
    }
    matching = [statement for statement in statements(policy) if _applies(statement, queue_arn, context)]
    denied = any(str(statement.get("Effect")).lower() == "deny" for statement in matching)
    allowed = any(str(statement.get("Effect")).lower() == "allow" for statement in matching)
    return allowed and not denied


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if "*" in _listed(principal.get("AWS", [])):
            return True
        return S3_SERVICE in _listed(principal.get("Service", []))
    return False


def _applies(statement: dict[str, Any], queue_arn: str, context: dict[str, str]) -> bool:
    if "Principal" in statement and not _principal_matches(statement["Principal"]):
        return False
    if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"]):
        return False
    action = SEND_ACTION.lower()
    if "Action" in statement and not any(
        fnmatchcase(action, str(pattern).lower()) for pattern in _listed(statement["Action"])
    ):
        return False
    if "NotAction" in statement and any(
        fnmatchcase(action, str(pattern).lower()) for pattern in _listed(statement["NotAction"])
    ):
        return False
    if "Resource" in statement and not any(
        fnmatchcase(queue_arn, str(pattern)) for pattern in _listed(statement["Resource"])
    ):
        return False
    if "NotResource" in statement and any(
        fnmatchcase(queue_arn, str(pattern)) for pattern in _listed(statement["NotResource"])
    ):
        return False
    return all(
        _condition_holds(operator, key, values, context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, values in block.items()
    )


def _condition_holds(operator: str, key: str, values: Any, context: dict[str, str]) -> bool:
    actual = context.get(key.lower())
    if actual is None:
        return True  # a key the audit cannot know: not counted against the policy
    name = operator.split(":")[-1]
    if name.endswith("IfExists"):
        name = name[: -len("IfExists")]
    expected = [str(value) for value in _listed(values)]
    negated = "Not" in name
    base = name.replace("Not", "")
    if base == "Bool":
        matched = actual.lower() in (value.lower() for value in expected)
    elif base.endswith("Like"):
        matched = any(fnmatchcase(actual, pattern) for pattern in expected)
    elif base.endswith("EqualsIgnoreCase"):
        matched = actual.lower() in (value.lower() for value in expected)
    elif base.endswith("Equals"):
        matched = actual in expected
    else:
        return True  # an operator the audit does not evaluate
    return not matched if negated else matched
