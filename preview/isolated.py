"""Render a program inside its own virtualenv, as the CLI runs a program whose Pulumi.yaml declares one.

The parent process starts the venv's Python on `python -m preview.isolated REQUEST RESULT`, with only
this `preview` package added to its import path (the mocks; the venv brings pulumi and the program's
providers). The child renders in-process and writes the RenderedStack (or the error) to RESULT;
the parent evaluates the policies, so the policy pack need not be installed in the program's venv.
`install_requirements` is `--install`: the venv created from the program's requirements.txt.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preview.project import PulumiProject

PACKAGE_DIR = Path(__file__).resolve().parent
RENDER_TIMEOUT_SECONDS = 300
INSTALL_TIMEOUT_SECONDS = 900


def render_in_virtualenv(
    project: PulumiProject,
    venv: Path,
    stack: str,
    overrides: dict[str, str],
    stack_references: dict[str, dict[str, Any]],
):  # -> RenderedStack (imported lazily by the caller's module)
    from preview.project import ProjectError  # noqa: PLC0415 - the child imports pulumi first
    from preview.render import ProgramError  # noqa: PLC0415 - render imports this module lazily

    python = venv / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="preview-venv-") as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "preview").symlink_to(PACKAGE_DIR)
        request = scratch_dir / "request.json"
        result = scratch_dir / "result.pickle"
        request.write_text(
            json.dumps(
                {
                    "program": str(project.directory),
                    "stack": stack,
                    "overrides": overrides,
                    "stackReferences": stack_references,
                }
            )
        )
        completed = subprocess.run(
            [str(python), "-m", "preview.isolated", str(request), str(result)],
            env={**os.environ, "PYTHONPATH": str(scratch_dir), "VIRTUAL_ENV": str(venv)},
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_SECONDS,
            check=False,
        )
        if not result.exists():
            missing = _missing_module(completed.stderr)
            if missing:
                raise ProgramError(
                    f"the program's virtualenv {venv} has no '{missing}' (the offline preview runs the program "
                    f"there, as the CLI does): add it to requirements.txt and run "
                    f"`python -m preview --program {project.directory} --install`"
                )
            last_line = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise ProgramError(f"the program's virtualenv {venv} could not run the preview: {last_line}")
        outcome = pickle.loads(result.read_bytes())  # noqa: S301 - written by our own child process
    if outcome["kind"] == "ok":
        return outcome["rendered"]
    if outcome["kind"] == "project":
        raise ProjectError(outcome["message"])
    failure = ProgramError(outcome["message"])
    failure.printed = outcome.get("printed", "")
    raise failure


def install_requirements(project: PulumiProject) -> str:
    """`--install`: create the declared virtualenv and install the program's requirements into it."""
    from preview.project import ProjectError  # noqa: PLC0415

    if project.virtualenv is None:
        raise ProjectError(
            f"{project.project_file}: --install needs runtime.options.virtualenv (e.g. `virtualenv: venv`, "
            "as `pulumi new` writes it) to know where to install"
        )
    if project.toolchain != "pip":
        command = {"poetry": "poetry install", "uv": "uv sync"}[project.toolchain]
        raise ProjectError(
            f"{project.project_file}: the toolchain is {project.toolchain}; install with `{command}` in "
            f"{project.directory}, then run the preview again"
        )
    requirements = project.directory / "requirements.txt"
    if not requirements.exists():
        raise ProjectError(f"{project.directory} has no requirements.txt to install from")
    steps = [
        [sys.executable, "-m", "venv", str(project.virtualenv)],
        [
            str(project.virtualenv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            str(requirements),
        ],
    ]
    if (project.virtualenv / "pyvenv.cfg").exists():
        steps = steps[1:]
    for command in steps:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
        )
        if completed.returncode != 0:
            last_line = (completed.stderr.strip().splitlines() or ["failed"])[-1]
            raise ProjectError(f"`{' '.join(command)}` failed: {last_line}")
    return f"installed {requirements} into {project.virtualenv}"


def _missing_module(stderr: str) -> str | None:
    for line in reversed(stderr.splitlines()):
        if line.startswith("ModuleNotFoundError: No module named"):
            return line.split("'")[1]
    return None


def _child(request_path: Path, result_path: Path) -> None:
    import pulumi  # noqa: F401, PLC0415 - first, so a venv without the SDK is reported as missing pulumi

    from preview.project import ProjectError  # noqa: PLC0415
    from preview.render import ProgramError, render_program  # noqa: PLC0415 - runs in the program's venv

    request = json.loads(request_path.read_text())
    try:
        rendered = render_program(
            request["program"], request["stack"], request["overrides"], request["stackReferences"]
        )
        outcome: dict[str, Any] = {"kind": "ok", "rendered": rendered}
        payload = pickle.dumps(outcome)
    except ProjectError as error:
        payload = pickle.dumps({"kind": "project", "message": str(error)})
    except ProgramError as error:
        payload = pickle.dumps({"kind": "program", "message": str(error), "printed": error.printed})
    except pickle.PicklingError as error:
        payload = pickle.dumps(
            {"kind": "program", "message": f"the rendered stack cannot be returned: {error}"}
        )
    result_path.write_bytes(payload)


if __name__ == "__main__":
    gc.disable()  # a short-lived render, as in preview/__main__.py
    _child(Path(sys.argv[1]), Path(sys.argv[2]))
