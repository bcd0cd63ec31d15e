"""The offline preview and policy gate, the command behind `python -m preview [--program DIR] [--stack NAME] [--json]`.

Renders a Pulumi Python program under mocks with its stack's config and the engine's preview
semantics, prints the resource tree the way `pulumi preview` does, evaluates every policy of the
pack, and exits non-zero when a mandatory (or remediate) policy is violated. No cloud account, no
Pulumi CLI. Secrets print as [secret], values unknown until deployment as [unknown].

Exit codes: 0 no blocking violation; 1 a mandatory or remediate policy is violated; 2 the program,
its project/stack files or the policy config are wrong (one line naming the file and line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pulumi

from preview.entrypoint import interrupted
from preview.gate import (
    DEFAULT_POLICY_PACK,
    REPO_ROOT,
    GateResult,
    PolicyConfigError,
    evaluate,
    load_pack_config,
    load_policies,
)
from preview.isolated import install_requirements
from preview.json_files import read_json
from preview.mocks import RecordedResource
from preview.project import ProjectError, load_project
from preview.render import ProgramError, RenderedStack, render_program
from preview.sarif import sarif_log, write_sarif
from preview.values import contains_unknown, redact, redact_all, secret_texts, shown_properties

EXIT_OK, EXIT_MANDATORY_VIOLATION, EXIT_ERROR = 0, 1, 2
MAX_SHOWN_INPUTS = 5
MAX_VALUE_WIDTH = 70


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m preview", description=__doc__.splitlines()[0])
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="Pulumi Python program directory")
    parser.add_argument("--stack", default="production", help="stack name; its config is Pulumi.<stack>.yaml")
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value for this run, as `pulumi preview -c` (KEY without namespace = project's)",
    )
    parser.add_argument(
        "--allow-missing-stack-file",
        action="store_true",
        help="preview a stack that has no Pulumi.<stack>.yaml with the project's defaults (default: an error)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tree")
    parser.add_argument(
        "--sarif",
        type=Path,
        metavar="FILE",
        help="also write the violations as SARIF 2.1.0 (for code scanning; docs/preview.md)",
    )
    parser.add_argument("--policy-pack", type=Path, default=DEFAULT_POLICY_PACK, help="policy pack directory")
    parser.add_argument(
        "--stack-reference",
        action="append",
        default=[],
        metavar="NAME=FILE.json",
        help="outputs of the stack `pulumi.StackReference(NAME)` reads (as `pulumi stack output --json` "
        "prints them); other references have unknown outputs",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="create the program's declared virtualenv from its requirements.txt first (as `pulumi install`)",
    )
    parser.add_argument(
        "--policy-config",
        type=Path,
        help="policy pack config (JSON, as for `pulumi preview --policy-pack-config`); "
        "default: <policy-pack>/config.<stack>.json when it exists",
    )
    return parser.parse_args(argv)


def config_overrides(program: Path, assignments: list[str]) -> dict[str, str]:
    overrides = {}
    for assignment in assignments:
        key, separator, value = assignment.partition("=")
        if not separator or not key:
            raise ProjectError(
                f"--config {assignment!r}: expected KEY=VALUE, e.g. -c visibilityTimeoutSeconds=900"
            )
        overrides[key if ":" in key else f"{load_project(program).name}:{key}"] = value
    return overrides


def stack_references(assignments: list[str]) -> dict[str, dict[str, Any]]:
    references: dict[str, dict[str, Any]] = {}
    for assignment in assignments:
        name, separator, file_name = assignment.partition("=")
        if not separator or not name or not file_name:
            raise ProjectError(
                f"--stack-reference {assignment!r}: expected NAME=FILE.json, e.g. acme/network/prod=network.json"
            )
        outputs = read_json(file_name, f"--stack-reference {name}: {file_name}", ProjectError)
        if not isinstance(outputs, dict):
            raise ProjectError(f"--stack-reference {name}: {file_name}: expected an object of stack outputs")
        references[name] = outputs
    return references


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.perf_counter()
    try:
        project = load_project(options.program)
        if not options.allow_missing_stack_file:
            project.require_stack_file(
                options.stack, ", or pass --allow-missing-stack-file to preview the project's defaults"
            )
        if options.install:
            print(install_requirements(project), file=sys.stderr)
        rendered = render_program(
            options.program,
            options.stack,
            config_overrides(options.program, options.config),
            stack_references(options.stack_reference),
        )
        policies = load_policies(options.policy_pack)
        config_path = options.policy_config
        if config_path is None:
            candidate = options.policy_pack / f"config.{options.stack}.json"
            config_path = candidate if candidate.exists() else None
        pack_config = load_pack_config(config_path, policies)
        result = evaluate(rendered.resources, policies, pack_config)
        if options.sarif is not None:
            document = sarif_log(
                result, policies, pack_config, rendered.resources, project.main, stack_secrets(rendered)
            )
            try:
                write_sarif(options.sarif, document)
            except OSError as error:
                raise ProjectError(
                    f"--sarif {options.sarif}: cannot be written ({error.strerror or error}); give a path in a "
                    "writable directory, e.g. --sarif build/policy-gate.sarif"
                ) from None
    except (ProgramError, ProjectError, PolicyConfigError) as error:
        if interrupted():  # e.g. a module half imported when Ctrl-C arrived: not the program's fault
            raise KeyboardInterrupt from None
        if options.json:
            print(json.dumps({"error": str(error)}))
        else:
            print(getattr(error, "printed", ""), end="")  # the program's own output, as the CLI shows it
            print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    elapsed = time.perf_counter() - started
    if options.json:
        print(json.dumps(as_json(rendered, result), indent=2, default=_json_default, ensure_ascii=False))
    else:
        print_report(rendered, result, config_path, elapsed)
    return EXIT_MANDATORY_VIOLATION if result.blocking_violations else EXIT_OK


def stack_secrets(rendered: RenderedStack) -> set[str]:
    """Every secret string of the stack, so that policy messages quoting one print [secret]."""
    found = secret_texts(rendered.outputs, rendered.secret_outputs)
    for resource in rendered.resources:
        found |= secret_texts(resource.inputs, resource.secret_inputs)
        found |= secret_texts(resource.outputs, resource.secret_outputs)
    return found


def _redacted(document: dict[str, str], secrets: set[str]) -> dict[str, str]:
    return {key: redact(value, secrets) if key == "message" else value for key, value in document.items()}


def program_output(rendered: RenderedStack) -> list[str]:
    """The lines the program printed in the preview pass (the plausible-value pass's are not shown)."""
    return rendered.shown.printed.splitlines()


def _stack_urn(rendered: RenderedStack) -> str:
    return next((r.urn for r in rendered.shown.resources if r.type == "pulumi:pulumi:Stack"), "")


def as_json(rendered: RenderedStack, result: GateResult) -> dict[str, Any]:
    secrets = stack_secrets(rendered)
    return {
        "project": rendered.project,
        "stack": rendered.stack,
        "resources": [
            {
                "type": resource.type,
                "name": resource.name,
                "urn": resource.urn,
                "parent": resource.parent,
                "inputs": redact_all(shown_properties(resource.inputs, resource.secret_inputs), secrets),
                "outputs": redact_all(shown_properties(resource.outputs, resource.secret_outputs), secrets),
            }
            for resource in rendered.resources
        ],
        "outputs": redact_all(shown_properties(rendered.outputs, rendered.secret_outputs), secrets),
        "violations": [_redacted(violation.as_json(), secrets) for violation in result.violations],
        "couldNotRun": [_redacted(note.as_json(), secrets) for note in result.could_not_run],
        "preview": {  # what `pulumi preview` knows and shows (docs/preview.md, "Two passes")
            "resources": [
                {
                    "urn": resource.urn,
                    "inputs": redact_all(shown_properties(resource.inputs, resource.secret_inputs), secrets),
                    "outputs": redact_all(
                        shown_properties(resource.outputs, resource.secret_outputs), secrets
                    ),
                }
                for resource in rendered.shown.resources
            ],
            "outputs": redact_all(
                shown_properties(rendered.shown.outputs, rendered.shown.secret_outputs), secrets
            ),
        },
        "callbackFailures": [redact(failure, secrets) for failure in rendered.callback_failures],
        "diagnostics": [  # what the program printed, as `pulumi preview --json` lists it
            {"urn": _stack_urn(rendered), "severity": "info", "message": redact(line, secrets)}
            for line in program_output(rendered)
        ],
    }


def print_report(
    rendered: RenderedStack, result: GateResult, config_path: Path | None, elapsed: float
) -> None:
    print(
        f"Previewing stack '{rendered.stack}' of project '{rendered.project}' offline (Pulumi mocks, no cloud)"
    )
    print()
    print(f"     {'Type':<58} {'Name':<34} Inputs")
    children: dict[str | None, list[RecordedResource]] = defaultdict(list)
    shown = rendered.shown  # the tree and outputs as `pulumi preview` knows them
    for resource in shown.resources:
        children[resource.parent].append(resource)
    for siblings in children.values():  # registration order varies from run to run (async); this does not
        siblings.sort(key=lambda resource: (resource.type, resource.name))
    secrets = stack_secrets(rendered)
    shown_outputs = redact_all(shown_properties(shown.outputs, shown.secret_outputs), secrets)
    for root in children[None]:
        _print_tree(root, children, "", secrets)
    print()
    if printed := program_output(rendered):
        print("Diagnostics:")  # as `pulumi preview` shows what the program printed
        print(f"  pulumi:pulumi:Stack ({rendered.project}-{rendered.stack}):")
        for line in printed:
            print(f"    {redact(line, secrets)}")
        print()
    print("Outputs:")
    width = max((len(key) for key in shown_outputs), default=0)
    for key, value in sorted(shown_outputs.items()):
        print(f"    {key:<{width}}: {json.dumps(value, ensure_ascii=False, default=str)}")
    print()
    source = f" (config {config_path})" if config_path else ""
    print(f"Policies: {result.policies_evaluated} evaluated from the pack{source}")
    for violation in result.violations:
        name = violation.urn.split("::")[-1] if violation.urn else "stack"
        print(f"    [{violation.level}] {violation.policy}  ({name})")
        print(f"        {redact(violation.message, secrets)}")
        print(f"        urn: {violation.urn}")
    for note in result.could_not_run:
        print(f"    [advisory] {note.policy}: {redact(note.message, secrets)}")
    for failure in rendered.callback_failures:
        print(f"    [cannot decide] {redact(failure, secrets)}; its values are unknown to the policies")
    mandatory = len(result.blocking_violations)
    advisory = len(result.violations) - mandatory
    print()
    created = sum(1 for resource in shown.resources if resource.type != "pulumi:pulumi:Stack")
    print(f"Resources: {created} to create")
    verdict = "FAILED" if mandatory else "passed"
    print(
        f"Policy gate {verdict}: {mandatory} mandatory, {advisory} advisory violation(s). ({elapsed:.2f} s)"
    )
    if contains_unknown(shown.outputs) or any(contains_unknown(r.inputs) for r in shown.resources):
        print(
            "Values shown as [unknown] are known only after deployment, as `pulumi preview` shows output<T>."
        )


def _print_tree(
    resource: RecordedResource,
    children: dict[str | None, list[RecordedResource]],
    prefix: str,
    secrets: set[str],
) -> None:
    kids = children.get(resource.urn, [])
    print(
        f" +   {prefix}{resource.type:<{58 - len(prefix)}} {resource.name:<34} {summarize_inputs(redact_all(shown_properties(resource.inputs, resource.secret_inputs), secrets))}".rstrip()
    )
    continuation = prefix.replace("├─ ", "│  ").replace("└─ ", "   ")
    for position, child in enumerate(kids):
        branch = "└─ " if position == len(kids) - 1 else "├─ "
        _print_tree(child, children, continuation + branch, secrets)


def summarize_inputs(inputs: dict[str, Any]) -> str:
    """The scalar inputs that say what a resource is (names and numbers first), then the rest by size."""
    items = [
        (key, value) for key, value in inputs.items() if key not in ("tags", "tagsAll") and value is not None
    ]
    items.sort(key=lambda item: isinstance(item[1], (dict, list, tuple)))  # stable: scalars first
    return " ".join(f"{key}={_short(value)}" for key, value in items[:MAX_SHOWN_INPUTS])


def _json_default(value: Any) -> Any:
    """Assets and archives as {"asset": path}, as the engine shows them; anything else as text.

    An `AssetArchive` (Lambda code assembled in the program) shows its members, a `StringAsset`
    its text, a remote asset or archive its URI, never `<pulumi.asset.AssetArchive object at 0x...>`.
    """
    if isinstance(value, (pulumi.asset.FileAsset, pulumi.asset.FileArchive)):
        return {"asset": value.path}
    if isinstance(value, pulumi.asset.AssetArchive):
        return {"assets": dict(value.assets)}
    if isinstance(value, pulumi.asset.StringAsset):
        return {"text": value.text}
    if isinstance(value, (pulumi.asset.RemoteAsset, pulumi.asset.RemoteArchive)):
        return {"uri": value.uri}
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, pulumi.asset.FileAsset):
        return f"<file {Path(value.path).name}>"
    if isinstance(value, pulumi.asset.FileArchive):
        return f"<archive {value.path}>"
    if isinstance(value, pulumi.asset.AssetArchive):
        return f"<archive of {len(value.assets)}>"
    if isinstance(value, pulumi.asset.StringAsset):
        return f"<text {len(value.text)} chars>"
    if isinstance(value, (pulumi.asset.RemoteAsset, pulumi.asset.RemoteArchive)):
        return f"<remote {value.uri}>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return "{" + ",".join(list(value)[:3]) + ("…" if len(value) > 3 else "") + "}"
    text = str(value)
    return text if len(text) <= MAX_VALUE_WIDTH else f"<{len(text)} chars>"
