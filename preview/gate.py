"""The policy gate: evaluate every policy of the pack on a rendered stack, as the Pulumi engine would.

Resource policies see each resource's inputs, stack policies see every resource's outputs with
parents and dependencies; both through the SDK's unknown-checking proxy, and a policy that meets an
unknown value is reported as "could not run", never as passed. Enforcement levels resolve like the
CLI's: the pack config's level, else the policy's own, else the pack's default (advisory).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import importlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from preview.json_files import read_json
from preview.mocks import RecordedResource

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POLICY_PACK = REPO_ROOT / "policy"
POLICY_MODULE = "pipeline_policies"
PACK_DEFAULT_LEVEL = EnforcementLevel.ADVISORY
BLOCKING_LEVELS = (EnforcementLevel.MANDATORY.value, EnforcementLevel.REMEDIATE.value)


class PolicyConfigError(Exception):
    """The policy pack config file is unreadable or names a policy the pack does not have."""


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    message: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class GateResult:
    violations: list[Violation]
    could_not_run: list[Violation]
    """Policies that met a value unknown during preview (the engine's advisory note)."""
    policies_evaluated: int

    @property
    def mandatory_violations(self) -> list[Violation]:
        """The blocking violations: `mandatory` and `remediate` both fail `pulumi preview`."""
        return [violation for violation in self.violations if violation.level in BLOCKING_LEVELS]

    @property
    def blocking_violations(self) -> list[Violation]:
        return self.mandatory_violations


def load_policies(pack_dir: Path = DEFAULT_POLICY_PACK) -> list[Policy]:
    """The pack's policies, imported from its module without constructing a PolicyPack (which serves gRPC)."""
    if str(pack_dir) not in sys.path:
        sys.path.insert(0, str(pack_dir))
    module = importlib.import_module(POLICY_MODULE)
    return list(module.POLICIES)


def load_pack_config(path: Path | None, policies: Iterable[Policy]) -> dict[str, dict[str, Any]]:
    """Read a `--policy-pack-config` style JSON file: {"policy": "mandatory" | {"enforcementLevel": ..., ...}}.

    Checked as the CLI checks it before the pack runs: every policy named exists, every level is one
    of the four, and every setting is declared by the policy's config schema and within it.
    """
    if path is None:
        return {}
    raw = read_json(path, f"policy config {path}", PolicyConfigError)
    if not isinstance(raw, dict):
        raise PolicyConfigError(
            f"policy config {path}: expected an object of policy names, got {type(raw).__name__}"
        )
    by_name = {policy.name: policy for policy in policies}
    config: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name not in by_name and name != "all":
            raise PolicyConfigError(
                f"policy config {path}: no policy named {name!r}; the pack has {sorted(by_name)}"
            )
        if isinstance(value, str):
            value = {"enforcementLevel": value}
        if not isinstance(value, dict):
            raise PolicyConfigError(
                f"policy config {path}: {name}: expected an enforcement level or an object, got {value!r}"
            )
        level = value.get("enforcementLevel")
        if level is not None and level not in ENFORCEMENT_LEVELS:
            raise PolicyConfigError(
                f"policy config {path}: {name}.enforcementLevel={level!r}: must be one of "
                f"{', '.join(ENFORCEMENT_LEVELS)}"
            )
        if name != "all":
            _check_settings(path, by_name[name], value)
        config[name] = dict(value)
    return config


ENFORCEMENT_LEVELS = tuple(level.value for level in EnforcementLevel)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _check_settings(path: Path, policy: Policy, value: dict[str, Any]) -> None:
    """Each setting against the policy's config schema: declared, of its type, in its range or enum."""
    schema = policy.config_schema
    properties = dict(schema.properties) if schema else {}
    for key, setting in value.items():
        if key == "enforcementLevel":
            continue
        where = f"policy config {path}: {policy.name}.{key}={json.dumps(setting)}"
        spec = properties.get(key)
        if spec is None:
            declared = ", ".join(sorted(properties)) or "none"
            raise PolicyConfigError(f"{where}: the policy has no such setting (settings: {declared})")
        problem = _schema_problem(setting, spec)
        if problem:
            raise PolicyConfigError(f"{where}: {problem}")
    for key in (schema.required or []) if schema else []:
        if key not in value and "default" not in properties.get(key, {}):
            raise PolicyConfigError(f"policy config {path}: {policy.name}: setting {key!r} is required")


def _schema_problem(setting: Any, spec: dict[str, Any]) -> str | None:
    expected = spec.get("type")
    types = expected if isinstance(expected, list) else [expected] if expected else []
    if types:
        python_types = tuple(t for name in types for t in _JSON_TYPES.get(name, ()))
        is_bool = isinstance(setting, bool)
        if not isinstance(setting, python_types) or (is_bool and "boolean" not in types):
            return f"must be of type {' or '.join(types)}"
        if "integer" in types and isinstance(setting, float) and not setting.is_integer():
            return "must be an integer"
    if "enum" in spec and setting not in spec["enum"]:
        return f"must be one of {spec['enum']}"
    bounds = (
        ("minimum", lambda v, b: v >= b, ">="),
        ("maximum", lambda v, b: v <= b, "<="),
        ("exclusiveMinimum", lambda v, b: v > b, ">"),
        ("exclusiveMaximum", lambda v, b: v < b, "<"),
    )
    if isinstance(setting, (int, float)) and not isinstance(setting, bool):
        for keyword, holds, sign in bounds:
            if keyword in spec and not holds(setting, spec[keyword]):
                return f"must be {sign} {spec[keyword]} (allowed: {_allowed_range(spec)})"
    if isinstance(setting, str):
        if "minLength" in spec and len(setting) < spec["minLength"]:
            return f"must be at least {spec['minLength']} characters"
        if "maxLength" in spec and len(setting) > spec["maxLength"]:
            return f"must be at most {spec['maxLength']} characters"
    return None


def _allowed_range(spec: dict[str, Any]) -> str:
    low = spec.get("minimum", spec.get("exclusiveMinimum"))
    high = spec.get("maximum", spec.get("exclusiveMaximum"))
    left = "[" if "minimum" in spec else "(" if low is not None else "("
    right = "]" if "maximum" in spec else ")" if high is not None else ")"
    return f"{left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{right}"


def enforcement_level(policy: Policy, config: dict[str, dict[str, Any]]) -> EnforcementLevel:
    for key in (policy.name, "all"):
        level = config.get(key, {}).get("enforcementLevel")
        if level:
            return EnforcementLevel(level)
    return policy.enforcement_level or PACK_DEFAULT_LEVEL


def policy_settings(policy: Policy, config: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The policy's config: schema defaults, overridden by the pack config (as the CLI hands it over)."""
    values = {
        key: spec["default"]
        for key, spec in (policy.config_schema.properties.items() if policy.config_schema else [])
        if "default" in spec
    }
    values.update({k: v for k, v in config.get(policy.name, {}).items() if k != "enforcementLevel"})
    return values


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def stack_resources(resources: list[RecordedResource]) -> list[PolicyResource]:
    """Stack-policy view of the resources: outputs, parents and dependencies as PolicyResource objects."""
    by_urn: dict[str, PolicyResource] = {}
    for resource in resources:
        by_urn[resource.urn] = PolicyResource(
            resource_type=resource.type,
            props=unknown_checking_proxy(resource.outputs),
            urn=resource.urn,
            name=resource.name,
            opts=_options(resource),
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for resource in resources:
        policy_resource = by_urn[resource.urn]
        policy_resource.parent = by_urn.get(resource.parent or "")
        policy_resource.dependencies = [by_urn[urn] for urn in resource.dependencies if urn in by_urn]
        policy_resource.property_dependencies = {
            key: [by_urn[urn] for urn in urns if urn in by_urn]
            for key, urns in resource.property_dependencies.items()
        }
    return list(by_urn.values())


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the pack runs.

    Evaluation allocates one proxy tree per resource and keeps them all alive until the end; each
    automatic full collection rescans them, which made 10,000 resources cost 2.5x per resource what
    1,000 do. Nothing here creates cyclic garbage, so collecting once afterwards is enough.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def evaluate(
    resources: list[RecordedResource], policies: list[Policy], config: dict[str, dict[str, Any]] | None = None
) -> GateResult:
    """Every policy on `resources`; a value a failed callback left unknown is "cannot decide" for each
    policy that reads it (docs/preview.md, "Two passes")."""
    with _cyclic_gc_paused():
        result = _evaluate(resources, policies, config or {})
        if not any(resource.unknown_from for resource in resources):
            return result
        without = _evaluate(
            [_without_failed_values(resource) for resource in resources], policies, config or {}
        )
        return with_reasons(_cannot_decide(result, without, resources), resources)


def _without_failed_values(resource: RecordedResource) -> RecordedResource:
    """The resource with every value a failed callback left unknown absent instead."""
    if not resource.unknown_from:
        return resource
    failed = {path.split(".")[0] for path in resource.unknown_from}
    return dataclasses.replace(
        resource,
        inputs={key: value for key, value in resource.inputs.items() if key not in failed},
        outputs={key: value for key, value in resource.outputs.items() if key not in failed},
    )


def _cannot_decide(result: GateResult, without: GateResult, resources: list[RecordedResource]) -> GateResult:
    """A policy whose verdict changes when the failed callbacks' values are absent rather than unknown
    needs them: it cannot decide, and a note on the resource it judged says which value and callback."""
    reasons = "; ".join(
        sorted(
            f"{path} of {resource.name} is unknown because {why}"
            for resource in resources
            for path, why in resource.unknown_from.items()
        )
    )
    noted = {note.policy for note in result.could_not_run}
    added = []
    for name in sorted({v.policy for v in result.violations + without.violations} - noted):
        differing = _verdicts(result, name) ^ _verdicts(without, name)
        if differing:
            urn = min(urn for urn, _ in differing)
            added.append(Violation(name, EnforcementLevel.ADVISORY.value, urn, f"cannot decide: {reasons}"))
    return GateResult(result.violations, result.could_not_run + added, result.policies_evaluated)


def _verdicts(result: GateResult, policy: str) -> set[tuple[str, str]]:
    return {
        (violation.urn, violation.message) for violation in result.violations if violation.policy == policy
    }


def _evaluate(
    resources: list[RecordedResource],
    policies: list[Policy],
    config: dict[str, dict[str, Any]],
) -> GateResult:
    violations: list[Violation] = []
    could_not_run: list[Violation] = []
    evaluated = 0
    policy_resources = stack_resources(resources)
    stack_urn = next((r.urn for r in resources if r.type == "pulumi:pulumi:Stack"), "")
    # Each resource is wrapped once and shown to every resource policy, as the engine sends it once.
    resource_views = [
        (resource, unknown_checking_proxy(resource.inputs), _options(resource))
        for resource in resources
        if resource.type != "pulumi:pulumi:Stack"
    ]
    for policy in policies:
        level = enforcement_level(policy, config)
        if level == EnforcementLevel.DISABLED:
            continue
        evaluated += 1
        settings = policy_settings(policy, config)
        if isinstance(policy, ResourceValidationPolicy):
            for resource, inputs, options in resource_views:
                args = ResourceValidationArgs(
                    resource.type, inputs, resource.urn, resource.name, options, None, settings
                )
                _run(policy, level, args, resource.urn, violations, could_not_run)
        elif isinstance(policy, StackValidationPolicy):
            _run(
                policy,
                level,
                StackValidationArgs(policy_resources, settings),
                stack_urn,
                violations,
                could_not_run,
            )
    return GateResult(violations=violations, could_not_run=could_not_run, policies_evaluated=evaluated)


def _run(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    level: EnforcementLevel,
    args: ResourceValidationArgs | StackValidationArgs,
    default_urn: str,
    violations: list[Violation],
    could_not_run: list[Violation],
) -> None:
    def report(message: str, urn: str | None = None) -> None:
        violations.append(
            Violation(policy.name, level.value, urn or default_urn, message or policy.description)
        )

    try:
        pending = policy.validate(args, report)  # type: ignore[arg-type]
        if pending is not None:
            asyncio.run(_awaited(pending))
    except UnknownValueError as error:
        could_not_run.append(
            Violation(
                policy.name,
                EnforcementLevel.ADVISORY.value,
                default_urn,
                f"can't run during preview: {error.message}",
            )
        )
    except _NotApplicableError:
        pass


async def _awaited(pending: Any) -> None:
    await pending


_UNKNOWN_PATH = re.compile(r"value at \.(\S+) can't be known")


def with_reasons(result: GateResult, resources: list[RecordedResource]) -> GateResult:
    """Each "could not run" note whose unknown value came from a callback that failed on plausible
    values (`RecordedResource.unknown_from`) says which callback, so the author knows why."""
    by_urn = {resource.urn: resource for resource in resources}
    notes = []
    for note in result.could_not_run:
        match = _UNKNOWN_PATH.search(note.message)
        path = match.group(1) if match else ""
        candidates = (
            [by_urn[note.urn]]
            if note.urn in by_urn and by_urn[note.urn].type != "pulumi:pulumi:Stack"
            else resources
        )
        reasons = sorted(
            {
                why
                for resource in candidates
                for where, why in resource.unknown_from.items()
                if path == where or path.startswith(f"{where}.") or where.startswith(f"{path}.")
            }
        )
        if reasons:
            note = Violation(note.policy, note.level, note.urn, f"{note.message}: {'; '.join(reasons)}")
        notes.append(note)
    return GateResult(result.violations, notes, result.policies_evaluated)
