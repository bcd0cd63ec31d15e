"""One answer to "may this service deliver over this hop?": the destination's resource policy, then its KMS key.

A service principal (S3, SNS, EventBridge, CloudWatch) sends to a queue or publishes to a topic only when the
destination's resource-based policy allows that principal the action for this source (its `aws:SourceArn` /
`aws:SourceAccount` conditions hold) and no statement denies it; with no policy, an SQS queue admits only
its own account's principals, never a service, and an SNS topic's default policy admits its own account's
CloudWatch alarms but not S3 or EventBridge. An encrypted destination needs a key the service may use: an
AWS-managed key's policy cannot be changed and admits no other service; a customer key's policy must grant
the service kms:GenerateDataKey* and kms:Decrypt.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import CLOUDWATCH, Edge, Node
from .iam import action_matches, resource_matches
from .kms import key_policies, key_policy_lets_service_use, keys
from .model import Queue, StackIndex, Topic, _text
from .types import TOPIC_POLICY
from .values import as_list, is_unknown, json_document, peek, statements

AWS_MANAGED_KEYS = ("alias/aws/sqs", "alias/aws/sns")


@dataclass(frozen=True)
class Decision:
    allowed: bool | None
    """True, False, or None when the stack does not hold what decides it (a key or policy declared elsewhere)."""
    kind: str = ""
    """Why not: resource-policy, aws-managed-key, key-policy, key-default-policy, key-outside, not-known-yet."""
    reason: str = ""
    """The AWS behaviour, in words, for a message."""
    fix: str = ""


ALLOWED = Decision(True)


def _account(arn: str | None) -> str | None:
    parts = arn.split(":") if arn else []
    return parts[4] if len(parts) > 5 and parts[4] else None


def _statement_covers(statement: dict, service: str) -> bool:
    """Whether a statement applies to the service principal: its Principal names it, or its NotPrincipal
    (used with Deny: everyone but those listed) does not.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html"""
    if "NotPrincipal" in statement:
        return not _principal_covers(statement.get("NotPrincipal"), service)
    return _principal_covers(statement.get("Principal"), service)


def _principal_covers(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if "*" in [str(p) for p in as_list(principal.get("AWS"))]:
            return True
        return service in [str(p) for p in as_list(principal.get("Service"))]
    return False


def _matches(statement: dict, key: str, patterns_match: Any) -> bool:
    negated = f"Not{key}" in statement
    if not negated and key not in statement:
        return True  # an element left out (an SNS or SQS policy without Resource) limits nothing
    values = [str(v) for v in as_list(statement.get(f"Not{key}" if negated else key))]
    return any(patterns_match(value) for value in values) != negated


def _request_context(service: str, source_arn: str | None, source_account: str | None) -> dict[str, Any]:
    """The condition keys a service principal's delivery carries: its source, and that it is an AWS service.
    Keys of an IAM principal's identity (aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:PrincipalTag/*) are
    absent for a service principal (reference_policies_condition-keys.html); None means "present, not known"."""
    return {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": source_account,
        "aws:sourceowner": source_account,
        "aws:principalisawsservice": "true",
        "aws:principalservicename": service,
    }


ABSENT_FOR_SERVICES = ("aws:principalorgid", "aws:principalorgpaths", "aws:principaltag/")


def _operator_holds(operator: str, name: str, values: list[str], context: dict[str, Any]) -> bool | None:
    """One condition operator on one key: True, False, or None when the pack does not model the key."""
    op = operator.lower()
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    negated = "not" in op
    if name.startswith(ABSENT_FOR_SERVICES) and name not in context:
        if op == "null":
            return any(value.lower() == "true" for value in values)
        return if_exists or negated  # a missing key matches no value: negated operators hold
    if name not in context:
        return None
    actual = context[name]
    if actual is None or any(is_unknown(value) for value in values):
        return True  # present but not known here: assume it holds
    if op == "null":
        return any(value.lower() == "false" for value in values)
    if op == "bool":
        return str(actual).lower() in [value.lower() for value in values]
    if "like" in op or op.startswith("arn"):
        # StringLike and both ARN operators match `*`/`?` wildcards; ArnEquals behaves exactly as ArnLike
        # (reference_policies_elements_condition_operators.html#Conditions_ARN). StringEquals is literal.
        hit = any(resource_matches(value, str(actual)) for value in values)
    else:
        hit = str(actual) in values
    return hit != negated


def _condition_holds(condition: Any, context: dict[str, Any], deny: bool) -> bool:
    """Whether a statement's Condition holds for this delivery (every operator and key must). Keys the pack
    does not model count as holding for an Allow (the sender is assumed to meet them) and as not holding for
    a Deny (it may not apply)."""
    if not isinstance(condition, dict) or not condition:
        return True
    for operator, block in condition.items():
        if not isinstance(block, dict):
            continue
        for key, raw in block.items():
            holds = _operator_holds(str(operator), str(key).lower(), [str(v) for v in as_list(raw)], context)
            if holds is None:
                holds = not deny
            if not holds:
                return False
    return True


def _policy_decides(
    documents: list[Any],
    service: str,
    action: str,
    target: Node,
    source_arn: str | None,
    source_account: str | None,
) -> bool:
    """IAM's order: an explicit Deny that applies wins; else some Allow must apply."""
    allowed = False
    context = _request_context(service, source_arn, source_account)
    for statement in (s for document in documents for s in statements(document)):
        if not _statement_covers(statement, service):
            continue
        if not _matches(statement, "Action", lambda pattern: action_matches(pattern, action)):
            continue
        if target.arn and not _matches(
            statement, "Resource", lambda pattern: resource_matches(pattern, target.arn)
        ):
            continue
        effect = statement.get("Effect")
        if not _condition_holds(statement.get("Condition"), context, effect == "Deny"):
            continue
        if effect == "Deny":
            return False
        allowed = allowed or effect == "Allow"
    return allowed


def _topic_documents(index: StackIndex, topic: Topic) -> list[Any]:
    resource = topic.resource
    documents = [peek(resource.props, "policy")]
    documents += [
        peek(policy.props, "policy")
        for policy in index.attached(TOPIC_POLICY, [peek(resource.props, "arn")], resource.urn, "arn")
    ]
    return [document for document in documents if document not in (None, "")]


def _resource_policy(index: StackIndex, edge: Edge) -> Decision:
    target = edge.target
    source_arn = edge.source.arn
    source_account = _account(source_arn) or _account(target.arn)
    if isinstance(target.model, Queue):
        queue = target.model
        if queue.access_policy_unknown:
            return Decision(None, "not-known-yet", f"the policy of queue {queue.label} is not known yet")
        documents: list[Any] = [{"Statement": queue.access_policy}] if queue.access_policy else []
        what = "queue policy"
    elif isinstance(target.model, Topic):
        raw = _topic_documents(index, target.model)
        if any(is_unknown(document) for document in raw):
            return Decision(None, "not-known-yet", f"the policy of topic {target.label} is not known yet")
        documents = [json_document(document) for document in raw]
        what = "topic policy"
        if not documents and edge.service == CLOUDWATCH:
            return ALLOWED  # the default topic policy admits the owner account's alarms
    else:
        return ALLOWED
    if _policy_decides(documents, edge.service, edge.action, target, source_arn, source_account):
        return ALLOWED
    source = f"{edge.source.kind} {edge.source.label}"
    if not documents:
        reason = (
            f"{target.kind} {target.label} has no {what}, so only its own account's principals may call "
            f"{edge.action} on it, never the service principal {edge.service}: AWS drops every delivery from "
            f"{source} (S3 refuses the notification configuration outright)"
        )
    else:
        reason = (
            f"the {what} of {target.kind} {target.label} does not allow {edge.service} {edge.action} for "
            f"{source} (no Allow whose principal, action, resource and aws:SourceArn/aws:SourceAccount "
            "conditions all match, or an explicit Deny), so AWS refuses every delivery from it"
        )
    fix = (
        f'Add a {what} statement: Effect Allow, Principal {{"Service": "{edge.service}"}}, Action '
        f"{edge.action}, Resource the {target.kind}'s ARN, Condition ArnEquals aws:SourceArn = "
        f"{source_arn or 'the ' + edge.source.kind + ' ARN'}."
    )
    return Decision(False, "resource-policy", reason, fix)


def _key_reference(target: Node) -> Any:
    props = target.resource.props if target.resource is not None else {}
    return peek(props, "kmsMasterKeyId")


def _encryption(index: StackIndex, edge: Edge) -> Decision:
    target = edge.target
    if target.resource is None:
        return ALLOWED
    key_ref = _key_reference(target)
    if key_ref in (None, ""):
        return ALLOWED
    service = edge.service
    needs = f"kms:GenerateDataKey* and kms:Decrypt for {service}"
    if _text(key_ref) and any(str(key_ref).endswith(managed) for managed in AWS_MANAGED_KEYS):
        return Decision(
            False,
            "aws-managed-key",
            f"{target.kind} {target.label} is encrypted with the AWS-managed key {key_ref}, whose key policy "
            f"cannot be changed and does not let {service} use it: every delivery from "
            f"{edge.source.kind} {edge.source.label} fails, silently",
            f"Encrypt the {target.kind} with a customer-managed KMS key whose policy allows {needs}"
            + (
                ", or use SSE-SQS (sqsManagedSseEnabled=True)."
                if target.kind == "queue"
                else ", or leave it unencrypted."
            ),
        )
    key = keys(index).find(target.resource, "kmsMasterKeyId", key_ref)
    if key is None:
        if is_unknown(key_ref):
            return Decision(
                None, "not-known-yet", f"the key of {target.kind} {target.label} is not known yet"
            )
        return Decision(
            None,
            "key-outside",
            f"{target.kind} {target.label} is encrypted with KMS key {key_ref}, which is not in this stack: whether "
            f"{service} may use it (and so whether deliveries from {edge.source.kind} {edge.source.label} arrive) "
            "cannot be decided here",
            f"Its key policy must allow {needs}.",
        )
    documents = key_policies(index, key)
    if any(is_unknown(document) for document in documents):
        return Decision(None, "not-known-yet", f"the policy of KMS key {key.name} is not known yet")
    if any(key_policy_lets_service_use(json_document(document), service) for document in documents):
        return ALLOWED
    return Decision(
        False,
        "key-policy" if documents else "key-default-policy",
        f"{target.kind} {target.label} is encrypted with KMS key {key.name}, whose key policy "
        f"{'is the default (account root only)' if not documents else 'does not allow'} {needs}: deliveries "
        f"from {edge.source.kind} {edge.source.label} never arrive",
        f'Add a key policy statement allowing Principal {{"Service": "{service}"}} kms:GenerateDataKey* and '
        "kms:Decrypt.",
    )


def authorise(index: StackIndex, edge: Edge) -> Decision:
    """The decision for one delivery hop: its destination's resource policy, then its encryption key."""
    if edge.action == "redrive":
        return ALLOWED
    memo = index.memo.setdefault("authorisation", {})
    cached = memo.get(id(edge))
    if cached is not None:
        return cached
    decision = _resource_policy(index, edge)
    if decision.allowed is not False:
        encryption = _encryption(index, edge)
        if encryption.allowed is not True:
            decision = encryption
    memo[id(edge)] = decision
    return decision
