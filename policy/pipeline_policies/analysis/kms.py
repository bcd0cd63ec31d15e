"""KMS keys of the stack and what their key policies let a service principal do.

A service that writes to an encrypted SNS topic or SQS queue needs kms:GenerateDataKey* and kms:Decrypt
on the destination's key; an AWS-managed key (`alias/aws/sns`, `alias/aws/sqs`) has a key policy nobody
can change, which admits only principals of the same account using the owning service, never another
service's principal: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
"""

from __future__ import annotations

from typing import Any

from .iam import action_matches
from .model import Lookup, StackIndex
from .types import KMS_ALIAS, KMS_KEY, KMS_KEY_POLICY
from .values import as_list, peek, statements

KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def names_service(principal: Any, service: str) -> bool:
    """A key-policy principal that covers `service` (its service principal, or everyone)."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return principal.get("AWS") == "*" or service in [str(p) for p in as_list(principal.get("Service"))]
    return False


def key_policy_lets_service_use(document: Any, service: str) -> bool:
    """Whether a key policy allows `service` both KMS actions an encrypted destination needs (no Deny of them)."""
    allowed = dict.fromkeys(KEY_ACTIONS, False)
    for statement in statements(document):
        if not names_service(statement.get("Principal"), service):
            continue
        actions = [str(a) for a in as_list(statement.get("Action"))]
        for needed in KEY_ACTIONS:
            if any(action_matches(pattern, needed) for pattern in actions):
                if statement.get("Effect") == "Deny":
                    return False
                if statement.get("Effect") == "Allow":
                    allowed[needed] = True
    return all(allowed.values())


def keys(index: StackIndex) -> Lookup:
    """The stack's KMS keys, found by URN, ARN, key id or any alias naming them."""
    cached = index.memo.get("kms_keys")
    if cached is not None:
        return cached
    found = Lookup()
    for key in index.by_type.get(KMS_KEY, []):
        props = key.props
        found.add(key, key.urn, peek(props, "arn"), peek(props, "keyId"), peek(props, "id"))
    for alias in index.by_type.get(KMS_ALIAS, []):
        key = found.find(alias, "targetKeyId", peek(alias.props, "targetKeyId"))
        if key is not None:
            found.add(key, alias.urn, peek(alias.props, "name"), peek(alias.props, "arn"))
    index.memo["kms_keys"] = found
    return found


def key_policies(index: StackIndex, key: Any) -> list[Any]:
    """The key's policy documents as declared (the key's own `policy`, every aws.kms.KeyPolicy on it)."""
    documents = [peek(key.props, "policy")]
    documents += [
        peek(resource.props, "policy")
        for resource in index.attached(
            KMS_KEY_POLICY, [peek(key.props, "keyId"), peek(key.props, "arn")], key.urn, "keyId"
        )
    ]
    return [document for document in documents if document not in (None, "")]
