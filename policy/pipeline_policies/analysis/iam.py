"""What an IAM role may really do: the union of its policies, explicit Deny first, capped by its boundary.

IAM evaluates every identity-based policy of a principal together: a request is allowed when some
statement allows it, no statement of any policy (identity or permissions boundary) denies it, and the
permissions boundary, when there is one, allows it too.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
Matching follows IAM's own: `*` and `?` wildcards (actions case-insensitive, ARNs case-sensitive),
`NotAction` and `NotResource` apply a statement to everything they do not name.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .values import as_list, statements

# AWS-managed policies that grant SQS or S3 actions, with the statements AWS documents for them
# (AWS Managed Policy Reference Guide, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/).
# Only their SQS/S3 statements matter here; a policy not in this table and not in the stack is undecidable.
_ALL = "*"
AWS_MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AmazonSQSFullAccess": [{"Effect": "Allow", "Action": ["sqs:*"], "Resource": _ALL}],
    "AmazonSQSReadOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ListDeadLetterSourceQueues",
                "sqs:ListQueues",
                "sqs:ListMessageMoveTasks",
                "sqs:ListQueueTags",
            ],
            "Resource": _ALL,
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": _ALL,
        }
    ],
    "AmazonS3FullAccess": [{"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": _ALL}],
    "AmazonS3ReadOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:Get*",
                "s3:List*",
                "s3:Describe*",
                "s3-object-lambda:Get*",
                "s3-object-lambda:List*",
            ],
            "Resource": _ALL,
        }
    ],
    "AdministratorAccess": [{"Effect": "Allow", "Action": "*", "Resource": _ALL}],
    "PowerUserAccess": [
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": _ALL}
    ],
    "ReadOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": ["sqs:Get*", "sqs:List*", "s3:Get*", "s3:List*", "s3:Describe*"],
            "Resource": _ALL,
        }
    ],
    # Grant nothing on SQS or S3 (their documented actions are ssm, ssmmessages, ec2messages, logs, ...).
    "AmazonSSMManagedInstanceCore": [],
    "CloudWatchAgentServerPolicy": [],
    "service-role/AWSLambdaBasicExecutionRole": [],
    "service-role/AWSLambdaVPCAccessExecutionRole": [],
    "AWSXRayDaemonWriteAccess": [],
}
_AWS_MANAGED_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(.+)$")


def aws_managed_statements(policy_arn: str) -> list[dict[str, Any]] | None:
    """The documented statements of an AWS-managed policy, or None when the table does not know it."""
    match = _AWS_MANAGED_ARN.match(policy_arn)
    if not match:
        return None
    return AWS_MANAGED_POLICIES.get(match.group(1))


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


def action_matches(pattern: str, action: str) -> bool:
    return _wildcard(pattern, True).match(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    return _wildcard(pattern, False).match(resource) is not None


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: bool
    resources: tuple[str, ...]
    not_resources: bool
    conditional: bool

    def applies(self, action: str, resource: str) -> bool:
        action_hit = any(action_matches(pattern, action) for pattern in self.actions)
        resource_hit = any(resource_matches(pattern, resource) for pattern in self.resources)
        return action_hit != self.not_actions and resource_hit != self.not_resources


def parse_statements(document: Any) -> list[Statement]:
    """The statements of a policy document (dict, or list of statement dicts), normalised."""
    raw = (
        statements(document)
        if not isinstance(document, list)
        else [s for s in document if isinstance(s, dict)]
    )
    parsed = []
    for statement in raw:
        not_actions = "NotAction" in statement
        not_resources = "NotResource" in statement
        parsed.append(
            Statement(
                effect=str(statement.get("Effect", "")),
                actions=tuple(
                    str(a) for a in as_list(statement.get("NotAction" if not_actions else "Action"))
                ),
                not_actions=not_actions,
                resources=tuple(
                    str(r) for r in as_list(statement.get("NotResource" if not_resources else "Resource"))
                ),
                not_resources=not_resources,
                conditional=bool(statement.get("Condition")),
            )
        )
    return parsed


@dataclass
class Permissions:
    """A principal's identity policies and optional permissions boundary, evaluated as IAM does.

    `undecided` names attached policies whose text the stack does not hold (their effect is unknown).
    A conditional Deny is not counted (its condition may not hold for the consumer); a conditional
    Allow is counted (the consumer is assumed to meet it).
    """

    statements: list[Statement] = field(default_factory=list)
    boundary: list[Statement] | None = None
    undecided: list[str] = field(default_factory=list)
    boundary_undecided: bool = False

    def add(self, document: Any) -> None:
        self.statements.extend(parse_statements(document))

    def allows(
        self, action: str, resource: str, resource_policy: Iterable[Any] = (), principal: Any = None
    ) -> bool:
        """IAM's decision for `principal` (this role's ARN) on `resource`, whose own resource-based
        policy (a queue policy) is `resource_policy`: an explicit Deny there wins too, and within one
        account an Allow there naming the role is enough, still capped by the role's boundary."""

        def denied(source: Iterable[Statement]) -> bool:
            return any(
                s.effect == "Deny" and not s.conditional and s.applies(action, resource) for s in source
            )

        def allowed(source: Iterable[Statement]) -> bool:
            return any(s.effect == "Allow" and s.applies(action, resource) for s in source)

        granted = [s for s in resource_policy if _names_principal(s, principal)]
        if denied(self.statements) or (self.boundary is not None and denied(self.boundary)):
            return False
        if denied(parse_statements(granted)):
            return False
        if self.boundary is not None and not allowed(self.boundary):
            return False
        return allowed(self.statements) or allowed(parse_statements(granted))

    @property
    def decidable(self) -> bool:
        return not self.undecided and not self.boundary_undecided

    def resource_patterns(self) -> set[str]:
        """Every resource pattern any statement names (for probing the ARN space, see `probe_arns`)."""
        patterns = {pattern for s in self.statements for pattern in s.resources}
        patterns |= {pattern for s in self.boundary or [] for pattern in s.resources}
        return patterns


def _names_principal(statement: Any, principal: Any) -> bool:
    """A resource-policy statement applies to `principal` (a role ARN, or None when unknown): `*`, the
    role's ARN, or (for a Deny) its account's root. An Allow to everyone counts only unconditioned.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"""
    if not isinstance(statement, dict):
        return False
    raw = statement.get("Principal")
    names = as_list(raw.get("AWS")) if isinstance(raw, dict) else as_list(raw)
    names = [str(name) for name in names]
    if "*" in names:
        return statement.get("Effect") == "Deny" or not statement.get("Condition")
    if not isinstance(principal, str) or not principal:
        return False
    if principal in names:
        return True
    account = principal.split(":")[4] if principal.count(":") >= 5 else None
    return (
        statement.get("Effect") == "Deny"
        and account is not None
        and (account in names or f"arn:aws:iam::{account}:root" in names)
    )


_FRESH = "\u2063any\u2063"  # a value no pattern names literally


def queue_shaped_instance(pattern: str) -> str:
    """A queue ARN that `pattern` matches and that is as unlike any other ARN as the pattern allows.

    Wildcards become a fresh token, segment by segment (`*` alone stands for any queue ARN), so the
    instance matches exactly the patterns that contain `pattern`: probing these instances plus the
    stack's own queue ARNs visits every class of queues the policies can tell apart.
    """
    if pattern.strip("*") == "":
        return f"arn:aws:sqs:{_FRESH}:{_FRESH}:{_FRESH}"
    parts = pattern.split(":")
    shaped = ["arn", "aws", "sqs", _FRESH, _FRESH, _FRESH]
    for position, part in enumerate(parts[:6]):
        if position == len(parts) - 1 and part.endswith("*") and position < 5:
            shaped[position] = part[:-1] + _FRESH if part != "*" else _FRESH
            break
        shaped[position] = part.replace("*", _FRESH).replace("?", "\u2064")
    return ":".join(shaped)


def probe_arns(stack_queue_arns: Iterable[str], permissions: Permissions) -> list[str]:
    """The queue ARNs to ask about: the stack's queues, and one instance of every pattern that could be a queue."""
    probes = dict.fromkeys(stack_queue_arns)
    # "*" stands for a queue no pattern names: what NotResource statements apply to.
    for pattern in ["*", *sorted(permissions.resource_patterns())]:
        instance = queue_shaped_instance(pattern)
        if resource_matches(pattern, instance) and instance.startswith("arn:aws:sqs:"):
            probes.setdefault(instance)
    return list(probes)


def describe_arn(arn: str) -> str:
    return arn.replace(_FRESH, "*").replace("\u2064", "?")
