"""Run a Pulumi Python program under mocks with the engine's preview semantics and collect what it would deploy.

This is the SDK's documented unit-test path (`pulumi.runtime.set_mocks`) used as a dry run: the
program runs as the CLI's language host runs it (the `main:` directory as working directory and
first on `sys.path`, its stack's config, `is_dry_run()` True), every resource goes to the
recording monitor, and what the mocks cannot know is unknown. A program that declares its own
virtualenv runs in it (`preview.isolated`), as the CLI runs it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import runpy
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.settings import SETTINGS, set_root_resource
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from preview import errors
from preview.callbacks import CallbackGuard, scrub
from preview.config import secure_config
from preview.entrypoint import interrupted
from preview.mocks import CloudMocks, RecordedResource, RecordingMonitor, plain_invokes_marked
from preview.output_types import ProviderCheckError
from preview.project import PulumiProject, StackConfig, load_project
from preview.values import UNKNOWN, plain

DEFAULT_REGION = "us-east-1"
RESOURCE_MARKER = "@isPulumiResource"


class ProgramError(Exception):
    """The program failed (an exception or an invalid setting); the message is the program's own."""

    printed: str = ""
    """What the program printed before it failed (the CLI shows it above the error)."""


@dataclass
class PassResult:
    """What one pass of the program registered and exported."""

    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    unknown_from: dict[str, str] = field(default_factory=dict)
    """Stack outputs unknown because a callback failed on plausible values: path -> why."""
    printed: str = ""
    """The program's standard output during the pass: the CLI shows it as the stack's diagnostics,
    never mixed into `--json`, and the program runs twice here, so it is captured, not printed."""


@dataclass
class RenderedStack:
    """The rendered program: `resources`/`outputs` hold the plausible values the policies judge,
    `preview` what `pulumi preview` knows and shows (see docs/preview.md, "Two passes")."""

    project: str
    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    """Stack outputs (dotted paths) that are secret: shown as [secret]."""
    preview: PassResult | None = None
    """The preview pass: a created resource's computed outputs unknown, callbacks on them not run."""
    callback_failures: list[str] = field(default_factory=list)
    """Callbacks that failed on plausible values (their values are unknown to the policies)."""

    @property
    def shown(self) -> PassResult:
        """What the preview prints: the preview pass (the plausible values when there is none)."""
        return self.preview or PassResult(self.resources, self.outputs, self.secret_outputs)

    def of_type(self, resource_type: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == resource_type]


def render_program(
    program_dir: str | Path,
    stack: str,
    config_overrides: dict[str, str] | None = None,
    stack_references: dict[str, dict[str, Any]] | None = None,
) -> RenderedStack:
    """Render `program_dir` for `stack`; `config_overrides` (full keys, e.g. "proj:key") win over files.

    `stack_references` maps a `pulumi.StackReference` name to its outputs; others are unknown.
    """
    project = load_project(program_dir)
    stack_config = project.load_stack(stack, config_overrides)
    venv = declared_virtualenv(project)
    if venv is not None and not runs_in(venv):
        from preview.isolated import render_in_virtualenv  # noqa: PLC0415 - only for programs with their own venv

        return render_in_virtualenv(project, venv, stack, config_overrides or {}, stack_references or {})
    return render_in_process(project, stack_config, stack_references or {})


def declared_virtualenv(project: PulumiProject) -> Path | None:
    """The program's own virtualenv when it declares one that exists.

    The CLI refuses to start when the declared virtualenv is missing. Here the program then runs
    with this interpreter's packages, and an import that fails says to create it (`--install`).
    """
    if project.virtualenv is None or not (project.virtualenv / "pyvenv.cfg").exists():
        return None
    return project.virtualenv


def runs_in(venv: Path) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


def render_in_process(
    project: PulumiProject, stack_config: StackConfig, stack_references: dict[str, dict[str, Any]]
) -> RenderedStack:
    """Two passes, one verdict: the preview pass decides whether the program previews and what it
    shows; the plausible-value pass gives the policies the values they judge (docs/preview.md)."""
    cwd = Path.cwd()
    noted = CallbackGuard(project.directory, cwd)
    previewed = _run_pass(project, stack_config, stack_references, plausible=False, guard=noted)
    try:
        check_assets(previewed.resources, project.program_dir)
    except ProgramError as error:
        error.printed = previewed.printed
        raise
    guard = CallbackGuard(project.directory, cwd, ran_in_preview=noted.ran)
    try:
        evaluated = _run_pass(project, stack_config, stack_references, plausible=True, guard=guard)
    except ProgramError as error:
        # Not a program error: the CLI's preview rendered it. The policies judge the preview's values.
        evaluated = previewed
        failures = [f"the plausible-value pass failed ({error}); the policies judged the preview's values"]
    else:
        failures = [failure.describe() for failure in guard.failures]
        _explain_markers(evaluated, guard)
    return RenderedStack(
        project=project.name,
        stack=stack_config.stack,
        resources=evaluated.resources,
        outputs=evaluated.outputs,
        secret_outputs=evaluated.secret_outputs,
        preview=previewed,
        callback_failures=failures,
    )


def _explain_markers(evaluated: PassResult, guard: CallbackGuard) -> None:
    """Each value a failed callback made unknown: its marker replaced by the failure's description."""
    for resource in evaluated.resources:
        for path, marker in resource.unknown_from.items():
            failure = guard.failure_of(marker)
            resource.unknown_from[path] = failure.describe() if failure else marker
    evaluated.unknown_from = {
        path: (failure.describe() if (failure := guard.failure_of(marker)) else marker)
        for path, marker in evaluated.unknown_from.items()
    }


def _run_pass(
    project: PulumiProject,
    stack_config: StackConfig,
    stack_references: dict[str, dict[str, Any]],
    plausible: bool,
    guard: CallbackGuard,
) -> PassResult:
    stack = stack_config.stack
    mocks = CloudMocks(
        region=stack_config.values.get("aws:region", DEFAULT_REGION),
        stack_references=stack_references,
        plausible=plausible,
    )
    monitor = RecordingMonitor(mocks)

    set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_all_config(stack_config.values, sorted(stack_config.secure_keys))
    printed = io.StringIO()
    pulumi.runtime.set_mocks(
        mocks, project=project.name, stack=stack, preview=True, monitor=monitor, logger=_diagnostics(printed)
    )
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()

    program_dir = project.program_dir
    modules_before = set(sys.modules)
    cwd_before = Path.cwd()
    os.chdir(program_dir)
    sys.path.insert(0, str(program_dir))
    unknown_from: dict[str, str] = {}
    try:
        with (
            contextlib.redirect_stdout(printed),
            secure_config(stack_config, project.name),
            plain_invokes_marked(),
            _quiet_loop(),
            guard.active(),
            _no_stack_traces(),
        ):
            _sync_await(run_pulumi_func(lambda: runpy.run_path(str(project.main), run_name="__main__")))
            root = pulumi.runtime.settings.get_root_resource()
            exported = getattr(root, "outputs", {}) or {}
            outputs, secret_outputs = _sync_await(_resolve_outputs(exported))
        outputs = scrub(outputs, "", unknown_from)
        resources = list(monitor.recorded.values())
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure of the user's program is reported
        if interrupted():  # a module half imported when Ctrl-C arrived: the interruption, for every caller
            raise KeyboardInterrupt from None
        if isinstance(error, ProgramError):
            error.printed = error.printed or printed.getvalue()
            raise
        if isinstance(error, ModuleNotFoundError):
            raise _printed_before(
                ProgramError(_missing_module(error, project, cwd_before)), printed
            ) from error
        if isinstance(error, ProviderCheckError):
            raise _printed_before(ProgramError(_at_declaration(error, cwd_before)), printed) from None
        raise _printed_before(
            ProgramError(
                _with_environment_hint(
                    errors.describe(error, project.directory, project.main, cwd_before), stack_config
                )
            ),
            printed,
        ) from error
    finally:
        os.chdir(cwd_before)
        sys.path.remove(str(program_dir))
        _forget_modules_under(project.directory, modules_before)
    for resource in resources:
        if resource.type == "pulumi:pulumi:Stack":
            resource.outputs = dict(outputs)
            resource.secret_outputs = set(secret_outputs)
            resource.unknown_from = unknown_from
    return PassResult(resources, dict(outputs), secret_outputs, unknown_from, printed.getvalue())


def _at_declaration(error: ProviderCheckError, shown_from: Path) -> str:
    """`file:line: message`, the line that declared the resource (as the CLI names the resource)."""
    if error.declared_at is None:
        return error.message
    uri, line = error.declared_at
    return f"{errors.relative(uri.removeprefix('file://'), shown_from)}:{line}: {error.message}"


class _Severity(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        return prefix + record.getMessage()


def _diagnostics(printed: io.StringIO) -> logging.Logger:
    """`pulumi.log.info/warn` go to the engine, which shows them with what the program prints
    (the stack's diagnostics); under mocks the SDK hands them to this logger."""
    logger = logging.Logger("preview.program", logging.INFO)
    handler = logging.StreamHandler(printed)
    handler.setFormatter(_Severity())
    logger.addHandler(handler)
    return logger


def _printed_before(error: ProgramError, printed: io.StringIO) -> ProgramError:
    error.printed = error.printed or printed.getvalue()
    return error


async def _resolve_outputs(exported: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Stack outputs as the engine records them: unknowns as the sentinel, secrets remembered."""
    outputs: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in exported.items():
        # As the SDK's Stack registers them: an exported resource becomes the map of its properties,
        # a data source's result (`GetAmiResult`) or an output type a plain map, not a Python object.
        output = pulumi.Output.from_input(massage(value, []))
        resolved = await output.future(with_unknowns=True)
        if not await output.is_known() and resolved is None:
            resolved = UNKNOWN
        if await output.is_secret():
            secrets.add(key)
        outputs[key] = _without_resource_marker(plain(resolved, secrets, key))
    return outputs, secrets


def _without_resource_marker(value: Any) -> Any:
    """The engine's "@isPulumiResource" preview marker (for its diff filtering) is not shown."""
    if isinstance(value, dict):
        return {k: _without_resource_marker(v) for k, v in value.items() if k != RESOURCE_MARKER}
    if isinstance(value, list):
        return [_without_resource_marker(item) for item in value]
    return value


def check_assets(resources: list[RecordedResource], program_dir: Path) -> None:
    """A FileAsset or FileArchive whose path does not exist fails, as the CLI fails hashing it."""
    for resource in resources:
        for key, asset in _assets(resource.inputs, ""):
            path = Path(asset.path)
            resolved = path if path.is_absolute() else program_dir / path
            if not resolved.exists():
                kind = type(asset).__name__
                raise ProgramError(
                    f"{resource.type} '{resource.name}': {key}: {kind} path '{asset.path}' does not exist "
                    f"(looked for {resolved}); the CLI fails the same way when it hashes the {kind.lower()[4:]}"
                )


def _assets(value: Any, path: str) -> Iterator[tuple[str, pulumi.FileAsset | pulumi.FileArchive]]:
    if isinstance(value, (pulumi.FileAsset, pulumi.FileArchive)):
        yield path, value
    elif isinstance(value, pulumi.AssetArchive):
        for name, item in value.assets.items():
            yield from _assets(item, f"{path}[{name}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _assets(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _assets(item, f"{path}[{index}]")


def _missing_module(error: ModuleNotFoundError, project: PulumiProject, shown_from: Path) -> str:
    package = errors.missing_package(error)
    where = errors.program_frame(error, project.directory, shown_from)
    location = f"{where[0]}:{where[1]}: " if where else ""
    python = Path(sys.executable)
    if project.virtualenv is not None and not (project.virtualenv / "pyvenv.cfg").exists():
        fix = (
            f"its declared virtualenv {project.virtualenv} does not exist: create it from requirements.txt with "
            f"`python -m preview --program {project.directory} --install`"
        )
    elif project.virtualenv is not None and (project.directory / "requirements.txt").exists():
        fix = (
            f"add {package} to {project.directory / 'requirements.txt'} and run "
            f"`python -m preview --program {project.directory} --install`"
        )
    else:
        fix = (
            f"install it with `{python} -m pip install {package}` (or add it to requirements.txt and declare "
        )
        fix += "runtime.options.virtualenv, then run `python -m preview --program DIR --install`)"
    return f"{location}No module named '{error.name}': the program needs the package {package}, which is not installed; {fix}"


def _with_environment_hint(message: str, stack_config: StackConfig) -> str:
    if stack_config.environments and "Missing required configuration variable" in message:
        return (
            f"{message} (the stack imports ESC environment(s) {', '.join(stack_config.environments)}, "
            "which the offline preview cannot open: pass the value with -c KEY=VALUE)"
        )
    return message


@contextlib.contextmanager
def _no_stack_traces() -> Iterator[None]:
    """Replace the SDK's per-resource stack trace (`traceback.extract_stack`, reading every source line:
    a fifth of a pass) by its first frame alone, found without reading source: the declaring file and
    line, which is all the engine (and the SARIF report) reads of it."""
    # Absent from older SDKs, which a program's own virtualenv may hold.
    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    from pulumi.runtime.proto import source_pb2  # noqa: PLC0415 - only in SDKs that send stack traces

    def declaring_frame_only() -> source_pb2.StackTrace:
        # The SDK's rule: the caller of the third `__init__` up the stack (Resource, Custom/Component,
        # the concrete class) is the user's code.
        frame, inits = sys._getframe(1), 0  # noqa: SLF001
        while frame is not None:
            if frame.f_code.co_name == "__init__":
                inits += 1
                if inits == 3:
                    break
            frame = frame.f_back
        caller = frame.f_back if frame is not None else None
        if caller is None or not caller.f_code.co_filename:
            return source_pb2.StackTrace()
        try:
            uri = Path(caller.f_code.co_filename).as_uri()
        except ValueError:  # a relative or synthetic file name: no position, as the SDK does
            return source_pb2.StackTrace()
        position = source_pb2.SourcePosition(uri=uri, line=caller.f_lineno)
        return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=position)])

    sdk_resource._get_stack_trace = declaring_frame_only  # noqa: SLF001
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original  # noqa: SLF001


class _quiet_loop:  # noqa: N801 - used as a context manager like contextlib helpers
    """Silence asyncio's 'exception was never retrieved' noise for a program that already failed."""

    def __enter__(self) -> None:
        loop = asyncio.get_event_loop()
        self._loop, self._handler = loop, loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, _context: None)

    def __exit__(self, *exc: object) -> None:
        self._loop.set_exception_handler(self._handler)


def _forget_modules_under(directory: Path, keep: set[str]) -> None:
    """Unload the program's own modules so the next render (another program, same names) starts clean."""
    for name in set(sys.modules) - keep:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(directory)) and not module_file.startswith(sys.prefix):
            del sys.modules[name]
