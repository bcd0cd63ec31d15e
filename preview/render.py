"""Run a Pulumi Python program in-process under mocks and collect what it would deploy.

This is the SDK's documented unit-test path (`pulumi.runtime.set_mocks`) used as a dry run: the
program runs exactly as the CLI's language host would run it (its directory as the working directory
and on `sys.path`, its stack's config), but every resource goes to the recording monitor.
"""

from __future__ import annotations

import os
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.settings import SETTINGS, set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from preview.mocks import CloudMocks, RecordedResource, RecordingMonitor
from preview.project import load_project

DEFAULT_REGION = "us-east-1"


class ProgramError(Exception):
    """The program failed (an exception or an invalid setting); the message is the program's own."""


@dataclass
class RenderedStack:
    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]

    def of_type(self, resource_type: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == resource_type]


def render_program(
    program_dir: str | Path, stack: str, config_overrides: dict[str, str] | None = None
) -> RenderedStack:
    """Render `program_dir` for `stack`; `config_overrides` (full keys, e.g. "proj:key") win over files."""
    project = load_project(program_dir)
    config = project.stack_config(stack)
    config.update(config_overrides or {})
    mocks = CloudMocks(region=config.get("aws:region", DEFAULT_REGION))
    monitor = RecordingMonitor(mocks)

    set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_all_config(config)
    pulumi.runtime.set_mocks(mocks, project=project.name, stack=stack, preview=False, monitor=monitor)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()

    modules_before = set(sys.modules)
    cwd_before = os.getcwd()
    os.chdir(project.directory)
    sys.path.insert(0, str(project.directory))
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(project.main), run_name="__main__")))
        root = pulumi.runtime.settings.get_root_resource()
        exported = getattr(root, "outputs", {}) or {}
        outputs = _sync_await(pulumi.Output.from_input(exported).future()) or {}
    except Exception as error:  # noqa: BLE001 - any failure of the user's program is reported, not raised
        raise ProgramError(_describe(error)) from error
    finally:
        os.chdir(cwd_before)
        sys.path.remove(str(project.directory))
        _forget_modules_under(project.directory, modules_before)

    resources = list(monitor.recorded.values())
    for resource in resources:
        if resource.type == "pulumi:pulumi:Stack":
            resource.outputs = dict(outputs)
    return RenderedStack(project=project.name, stack=stack, resources=resources, outputs=dict(outputs))


def _describe(error: BaseException) -> str:
    message = str(error) or type(error).__name__
    cause = error.__cause__ or error.__context__
    while isinstance(error, pulumi.RunError) and cause is not None and not str(error):
        message, cause = str(cause), cause.__cause__
    return message


def _forget_modules_under(directory: Path, keep: set[str]) -> None:
    """Unload the program's own modules so the next render (another program, same names) starts clean."""
    for name in set(sys.modules) - keep:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(directory)) and not module_file.startswith(sys.prefix):
            del sys.modules[name]
