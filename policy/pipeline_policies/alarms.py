"""Alarms that can reach someone: CloudWatch must be able to publish to the SNS topics its alarms name.

CloudWatch publishes alarm notifications to an encrypted topic only when the topic's KMS key lets the
service principal `cloudwatch.amazonaws.com` use it (kms:Decrypt, kms:GenerateDataKey*). The
AWS-managed key `alias/aws/sns` has a key policy nobody can change, which does not, so alarms that
publish to a topic encrypted with it are dropped silently:
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
Composite alarms publish their actions the same way:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .iam import action_matches
from .stack_index import KMS_ALIAS, KMS_KEY, KMS_KEY_POLICY, Lookup, StackIndex, _text, index_stack
from .values import as_list, elements, is_unknown, json_document, known, peek, statements

SNS_KMS_DOC = (
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"
)
CLOUDWATCH = "cloudwatch.amazonaws.com"
KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
ALARM_ACTION_KEYS = ("alarmActions", "okActions", "insufficientDataActions")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def _names_cloudwatch(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return principal.get("AWS") == "*" or CLOUDWATCH in [
            str(p) for p in as_list(principal.get("Service"))
        ]
    return False


def key_policy_lets_cloudwatch_publish(document: Any) -> bool:
    """Whether a key policy allows cloudwatch.amazonaws.com both KMS actions SNS needs (no Deny of them)."""
    allowed = dict.fromkeys(KEY_ACTIONS, False)
    for statement in statements(document):
        if not _names_cloudwatch(statement.get("Principal")):
            continue
        actions = [str(a) for a in as_list(statement.get("Action"))]
        for needed in KEY_ACTIONS:
            if any(action_matches(pattern, needed) for pattern in actions):
                if statement.get("Effect") == "Deny":
                    return False
                if statement.get("Effect") == "Allow":
                    allowed[needed] = True
    return all(allowed.values())


def _keys(index: StackIndex) -> Lookup:
    cached = index.memo.get("kms_keys")
    if cached is not None:
        return cached
    keys = Lookup()
    for key in index.by_type.get(KMS_KEY, []):
        props = key.props
        keys.add(key, key.urn, peek(props, "arn"), peek(props, "keyId"), peek(props, "id"))
    for alias in index.by_type.get(KMS_ALIAS, []):
        key = keys.find(alias, "targetKeyId", peek(alias.props, "targetKeyId"))
        if key is not None:
            keys.add(key, alias.urn, peek(alias.props, "name"), peek(alias.props, "arn"))
    index.memo["kms_keys"] = keys
    return keys


def _key_policies(index: StackIndex, key: Any) -> list[Any]:
    documents = [peek(key.props, "policy")]
    documents += [
        peek(resource.props, "policy")
        for resource in index.attached(
            KMS_KEY_POLICY, [peek(key.props, "keyId"), peek(key.props, "arn")], key.urn, "keyId"
        )
    ]
    return [document for document in documents if document not in (None, "")]


def alarm_topic_findings(index: StackIndex) -> list[tuple[bool, str, str]]:
    """(decided, message, urn) for each topic alarms publish to that CloudWatch cannot use."""
    alarms_by_topic: dict[int, tuple[Any, list[str]]] = {}
    for alarm in [*index.alarms, *index.composite_alarms]:
        for key in ALARM_ACTION_KEYS:
            for action in elements(peek(alarm.props, key)):
                topic = index.topics.get(action) if _text(action) else None
                if topic is None and (is_unknown(action) or not _text(action)):
                    topic = index.topics.find(alarm, key)
                if topic is not None:
                    names = alarms_by_topic.setdefault(id(topic), (topic, []))[1]
                    if alarm.name not in names:
                        names.append(alarm.name)
    findings = []
    for topic, alarm_names in alarms_by_topic.values():
        resource = topic.resource
        key_ref = peek(resource.props, "kmsMasterKeyId")
        if key_ref in (None, ""):
            continue
        alarms_text = f"{len(alarm_names)} alarm(s) ({', '.join(alarm_names[:4])}{', ...' if len(alarm_names) > 4 else ''})"
        if _text(key_ref) and str(key_ref).endswith(AWS_MANAGED_SNS_KEY):
            findings.append(
                (
                    True,
                    f"topic {resource.name} is encrypted with the AWS-managed key {AWS_MANAGED_SNS_KEY}, whose key policy "
                    f"does not let CloudWatch use it: the {alarms_text} that publish to it are never delivered, "
                    "silently. Encrypt the topic with a customer-managed KMS key whose policy allows "
                    f"{CLOUDWATCH} kms:Decrypt and kms:GenerateDataKey*, or leave it unencrypted.",
                    resource.urn,
                )
            )
            continue
        key = _keys(index).find(resource, "kmsMasterKeyId", key_ref)
        if key is None:
            if not is_unknown(key_ref):
                findings.append(
                    (
                        False,
                        f"topic {resource.name} is encrypted with KMS key {key_ref}, which is not in this stack: whether "
                        f"CloudWatch may use it (and so whether {alarms_text} reach anyone) cannot be decided here. "
                        f"Its key policy must allow {CLOUDWATCH} kms:Decrypt and kms:GenerateDataKey*.",
                        resource.urn,
                    )
                )
            continue
        documents = _key_policies(index, key)
        if any(is_unknown(document) for document in documents):
            known(documents[0], "policy")
        if not any(key_policy_lets_cloudwatch_publish(json_document(document)) for document in documents):
            findings.append(
                (
                    True,
                    f"topic {resource.name} is encrypted with KMS key {key.name}, whose key policy "
                    f"{'is the default (account root only)' if not documents else 'does not allow'} "
                    f"{CLOUDWATCH} kms:Decrypt and kms:GenerateDataKey*: the {alarms_text} that publish to it are "
                    "never delivered. Add a key policy statement allowing that service principal those actions.",
                    resource.urn,
                )
            )
    return findings


def _check_alarms_reach_someone(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """CloudWatch needs kms:Decrypt and kms:GenerateDataKey* on an encrypted topic's key (sns-key-management)."""
    for decided, message, urn in alarm_topic_findings(index_stack(args.resources)):
        if decided:
            report_violation(message, urn)


alarms_reach_someone = StackValidationPolicy(
    name="alarms-reach-someone",
    description="CloudWatch alarm actions publish only to SNS topics CloudWatch can use: not encrypted with the "
    "AWS-managed key alias/aws/sns, and, with a customer-managed key, a key policy allowing "
    "cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*. Fix: a customer-managed key with that "
    "statement, or no encryption.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_check_alarms_reach_someone,
    remediation_steps="Create an aws.kms.Key whose policy allows the account root kms:* and Principal "
    '{"Service": "cloudwatch.amazonaws.com"} kms:Decrypt and kms:GenerateDataKey*; set the topic\'s '
    "kmsMasterKeyId to it.",
    url=SNS_KMS_DOC,
)

ALARM_POLICIES = [alarms_reach_someone]
