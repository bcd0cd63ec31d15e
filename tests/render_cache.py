"""This repository's program rendered once per test process for each distinct input, not once per call.

Rendering runs the Pulumi program twice under mocks (~0.7 s of CPU); the tests render this
repository's program about a hundred times, mostly with the same stack and settings, through the
commands they drive (`bench.cost`, `sandbox.deploy`, the audit, the drill). The result is a pure
function of the project and its stack configuration, and the program's files do not change while the
tests run, so each caller gets a deep copy (~10 ms) of the first render of the same inputs: what one
test does to its copy no other test sees. Other programs (the corpora, programs written into tmp_path)
and failing renders are never cached.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import preview.render
from preview.project import PulumiProject, StackConfig
from preview.render import RenderedStack
from tests.paths import REPO_ROOT


def cache_repository_renders() -> None:
    real = preview.render.render_in_process
    if getattr(real, "cached_by_tests", False):
        return
    rendered: dict[str, RenderedStack] = {}

    @functools.wraps(real)
    def render_in_process(
        project: PulumiProject, stack_config: StackConfig, stack_references: dict[str, dict[str, Any]]
    ) -> RenderedStack:
        if Path(project.directory).resolve() != REPO_ROOT.resolve():
            return real(project, stack_config, stack_references)
        key = _key(project, stack_config, stack_references)
        if key not in rendered:
            rendered[key] = real(project, stack_config, stack_references)
        return copy.deepcopy(rendered[key])

    render_in_process.cached_by_tests = True  # type: ignore[attr-defined]
    preview.render.render_in_process = render_in_process  # type: ignore[assignment]


def _key(
    project: PulumiProject, stack_config: StackConfig, stack_references: dict[str, dict[str, Any]]
) -> str:
    """Everything the render reads besides the program's files (the working directory too: it names
    a failed callback's file in the failure's description)."""
    return json.dumps(
        {
            "project": repr(project),
            "stack": stack_config.stack,
            "values": stack_config.values,
            "secure": sorted(stack_config.secure_keys),
            "environments": stack_config.environments,
            "file": str(stack_config.file),
            "references": stack_references,
            "cwd": str(Path.cwd()),
        },
        sort_keys=True,
        default=repr,
    )
