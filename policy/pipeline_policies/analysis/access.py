"""Who consumes each queue, and what IAM lets each consumer do with the messages it receives.

A consumer is the instance role of a worker whose user data names the queue, the execution role of
a Lambda function mapped to the queue, or any principal whose effective permissions allow
`sqs:ReceiveMessage` on it. The analysis is computed once per stack and shared by the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .iam import action_matches, describe_arn, probe_arns, resource_matches
from .model import Queue, Role, StackIndex, _text
from .values import peek

RECEIVE = "sqs:ReceiveMessage"
DELETE = "sqs:DeleteMessage"
CHANGE_VISIBILITY = "sqs:ChangeMessageVisibility"


@dataclass
class Access:
    role: Role
    arn: str
    queue: Queue | None
    receive: bool
    delete: bool
    change_visibility: bool
    declared: bool
    """The role consumes the queue by declaration (a worker's QUEUE_URL, a Lambda event source mapping)."""

    @property
    def queue_label(self) -> str:
        return self.queue.label if self.queue is not None else describe_arn(self.arn)


def _may_receive(statement: Any) -> bool:
    if statement.effect != "Allow":
        return False
    hit = any(action_matches(pattern, RECEIVE) for pattern in statement.actions)
    return hit != statement.not_actions


def _candidate_arns(index: StackIndex, role: Role, queue_arns: list[str]) -> list[str]:
    """Stack queues and pattern instances the role might receive from (linear in its statements)."""
    candidates: dict[str, None] = {}
    by_arn = index.queue_by_arn_cache
    for statement in role.permissions.statements:
        if not _may_receive(statement):
            continue
        for pattern in statement.resources:
            if statement.not_resources or "*" in pattern or "?" in pattern:
                candidates.update(
                    dict.fromkeys(
                        arn for arn in queue_arns if resource_matches(pattern, arn) != statement.not_resources
                    )
                )
            elif pattern in by_arn:
                candidates[pattern] = None
    for arn in probe_arns([], role.permissions):
        candidates.setdefault(arn)
    return list(candidates)


def access_table(index: StackIndex) -> list[Access]:
    cached = index.memo.get("access")
    if cached is not None:
        return cached
    queue_arns = [str(queue.arn) for queue in index.queues if _text(queue.arn)]
    index.queue_by_arn_cache = {arn: queue for arn, queue in index.queue_by_arn.items()}
    declared: dict[int, set[str]] = {}
    for queue in index.queues:
        for worker in queue.workers:
            if worker.role is not None and _text(queue.arn):
                declared.setdefault(id(worker.role), set()).add(str(queue.arn))
        for consumer in queue.lambda_consumers:
            if consumer.role is not None and _text(queue.arn):
                declared.setdefault(id(consumer.role), set()).add(str(queue.arn))
    table: list[Access] = []
    for role in index.roles:
        arns = _candidate_arns(index, role, queue_arns)
        arns += [arn for arn in sorted(declared.get(id(role), ())) if arn not in arns]
        principal = _text(peek(role.resource.props, "arn"))
        for arn in arns:
            queue = index.queue_by_arn_cache.get(arn)
            access_policy = queue.access_policy if queue is not None else []
            receive, delete, change_visibility = (
                role.permissions.allows(action, arn, access_policy, principal)
                for action in (RECEIVE, DELETE, CHANGE_VISIBILITY)
            )
            is_declared = arn in declared.get(id(role), ())
            if not (receive or is_declared):
                continue
            table.append(
                Access(
                    role=role,
                    arn=arn,
                    queue=queue,
                    receive=receive,
                    delete=delete,
                    change_visibility=change_visibility,
                    declared=is_declared,
                )
            )
    for access in table:
        if access.queue is not None and access.receive:
            access.queue.receivable = True
    index.memo["access"] = table
    return table


def receivers_of(index: StackIndex, queue: Queue) -> list[Access]:
    by_queue = index.memo.get("receivers")
    if by_queue is None:
        by_queue = index.memo["receivers"] = {}
        for access in access_table(index):
            if access.queue is not None and access.receive:
                by_queue.setdefault(id(access.queue), []).append(access)
    return by_queue.get(id(queue), [])
