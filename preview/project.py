"""Read a Pulumi project directory the way the Pulumi CLI does: Pulumi.yaml and Pulumi.<stack>.yaml.

The CLI validates Pulumi.yaml against its project schema (sdk/go/common/workspace/project.json),
resolves `main:` and `stackConfigDir`, merges the project's config defaults with the stack's
values, checks them against the declared types, and hands the program plain strings (objects and
arrays as JSON). `secure:` values are ciphertext only the CLI can decrypt: here they are secret
and unknown. A stack that imports ESC environments cannot be opened offline: the values it would
provide have to be passed with `-c`. https://www.pulumi.com/docs/iac/concepts/projects/project-file/
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_TYPES = ("string", "integer", "boolean", "array", "object")
DECLARATION_KEYS = {"type", "items", "description", "secret", "default", "value"}
RUNTIME_KEYS = {"name", "options"}
PYTHON_TOOLCHAINS = ("pip", "poetry", "uv")
PYTHON_TYPECHECKERS = ("mypy", "pyright")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class ProjectError(Exception):
    """The directory is not a runnable Pulumi Python project; the message says what to fix."""


@dataclass(frozen=True)
class ConfigDeclaration:
    key: str
    type: str | None
    secret: bool
    default: object = None
    has_default: bool = False
    line: int = 0


@dataclass
class StackConfig:
    """What the program of one stack sees: plain values, which keys are secure, the ESC imports."""

    stack: str
    values: dict[str, str]
    secure_keys: set[str] = field(default_factory=set)
    environments: list[str] = field(default_factory=list)
    file: Path | None = None


@dataclass(frozen=True)
class PulumiProject:
    directory: Path
    name: str
    main: Path
    config_defaults: dict[str, object]
    main_dir: Path | None = None
    stack_config_dir: Path | None = None
    declarations: dict[str, ConfigDeclaration] = field(default_factory=dict)
    toolchain: str = "pip"
    virtualenv: Path | None = None

    @property
    def project_file(self) -> Path:
        return self.directory / "Pulumi.yaml"

    @property
    def program_dir(self) -> Path:
        """The program's working directory and import root: the `main:` directory."""
        return self.main_dir or self.main.parent

    def stack_file(self, stack: str) -> Path:
        return (self.stack_config_dir or self.directory) / f"Pulumi.{stack.split('/')[-1]}.yaml"

    def stacks_with_files(self) -> list[str]:
        """The stacks that have a Pulumi.<stack>.yaml, sorted."""
        directory = self.stack_config_dir or self.directory
        return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in directory.glob("Pulumi.*.yaml"))

    def require_stack_file(self, stack: str, fix: str = "") -> None:
        """A stack name without its file is a typo far more often than a new stack: offline, the file is
        the only sign a stack exists, and rendering the project's defaults instead would judge a stack
        nobody deploys."""
        stack_file = self.stack_file(stack)
        if not stack_file.is_file():
            known = ", ".join(self.stacks_with_files()) or "none"
            raise ProjectError(
                f"stack {stack!r}: there is no {stack_file.name} in {stack_file.parent} (stacks with a file: "
                f"{known}); give --stack one of those or create the file{fix}"
            )

    def stack_config(self, stack: str) -> dict[str, str]:
        """The config the program sees for `stack`: project defaults, then Pulumi.<stack>.yaml values."""
        return self.load_stack(stack).values

    def full_key(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"

    def load_stack(self, stack: str, overrides: dict[str, str] | None = None) -> StackConfig:
        """Stack config merged and checked as the CLI does before it starts the program."""
        overrides = overrides or {}
        stack_file = self.stack_file(stack)
        values: dict[str, object] = dict(self.config_defaults)
        secure: set[str] = set()
        environments: list[str] = []
        raw_stack: dict[str, object] = {}
        root = None
        if stack_file.exists():
            doc, root = _load_yaml(stack_file)
            if doc is not None and not isinstance(doc, dict):
                raise ProjectError(f"{stack_file}:1: a stack file is a mapping (config:, environment:, ...)")
            doc = doc or {}
            environments = _environments(stack_file, doc.get("environment"), root)
            config = doc.get("config") or {}
            if not isinstance(config, dict):
                raise ProjectError(
                    f"{stack_file}:{_line(root, 'config')}: config: must be a mapping of keys to values"
                )
            for key, value in config.items():
                full_key = self.full_key(str(key))
                if isinstance(value, dict) and set(value) == {"secure"}:
                    secure.add(full_key)
                    values.pop(full_key, None)
                    continue
                values[full_key] = value
                raw_stack[full_key] = value
        for key in overrides:
            secure.discard(key)
        values.update(overrides)
        self._check_keys_declared(stack, stack_file, root, [*raw_stack, *secure], overrides)
        self._check_against_declarations(stack, stack_file, root, values, secure, environments, overrides)
        return StackConfig(
            stack=stack,
            values={key: _as_config_string(value) for key, value in values.items()},
            secure_keys=secure,
            environments=environments,
            file=stack_file if stack_file.exists() else None,
        )

    def _check_keys_declared(
        self,
        stack: str,
        stack_file: Path,
        root: yaml.Node | None,
        stack_keys: list[str],
        overrides: dict[str, str],
    ) -> None:
        """As the CLI: once Pulumi.yaml has a config section, every key of the project's own namespace that
        the stack file or `-c` sets must be declared there ("Stack 'dev' uses configuration value 'x' which
        is not defined by the project configuration"); other namespaces belong to providers and are not
        checked. Beyond the CLI, each key names the nearest declared one."""
        if not (self.declarations or self.config_defaults):
            return
        defined = {_short(self.name, key) for key in (*self.declarations, *self.config_defaults)}
        given = [(key, "stack") for key in stack_keys] + [(key, "-c") for key in overrides]
        undefined = [
            (short, source)
            for key, source in given
            if key.startswith(f"{self.name}:") and (short := _short(self.name, key)) not in defined
        ]
        if not undefined:
            return
        short, source = undefined[0]
        where = (
            f"-c {short}={overrides[self.full_key(short)]}"
            if source == "-c"
            else f"{stack_file}:{_line(root, 'config', (short, self.full_key(short)))}"
        )
        names = []
        for key, _ in undefined:
            nearest = difflib.get_close_matches(key, sorted(defined), n=1)
            names.append(f"'{key}'" + (f" (did you mean '{nearest[0]}'?)" if nearest else ""))
        plural = len(names) > 1
        raise ProjectError(
            f"{where}: Stack '{stack.split('/')[-1]}' uses configuration value{'s' if plural else ''} "
            f"{', '.join(names)} which {'are' if plural else 'is'} not defined by the project configuration: "
            f"declare {'them' if plural else 'it'} under config: in {self.project_file.name}, or fix the name"
        )

    def _check_against_declarations(
        self,
        stack: str,
        stack_file: Path,
        root: yaml.Node | None,
        values: dict[str, object],
        secure: set[str],
        environments: list[str],
        overrides: dict[str, str],
    ) -> None:
        stack_name = stack.split("/")[-1]
        missing: list[str] = []
        for key, declaration in self.declarations.items():
            if key in secure:
                continue
            if key not in values:
                missing.append(key)
                continue
            if key in overrides:
                continue  # -c values are strings the program parses (and reports) itself
            short = _short(self.name, key)
            if declaration.secret and key not in self.config_defaults:
                raise ProjectError(
                    f"{stack_file}:{_line(root, 'config', (short, key))}: Stack '{stack_name}' with configuration "
                    f"key '{short}' must be encrypted as it's secret (`pulumi config set --secret {short} ...`)"
                )
            if declaration.type and not _matches_type(values[key], declaration.type, False):
                where = f"{stack_file}:{_line(root, 'config', (short, key))}"
                raise ProjectError(
                    f"{where}: Stack '{stack_name}' with configuration key '{short}' must be of type "
                    f"'{declaration.type}' (got {values[key]!r})"
                )
        if missing and environments:
            raise ProjectError(
                f"{stack_file}:{_line(root, 'environment')}: the stack imports ESC environment(s) "
                f"{', '.join(environments)}, which the offline preview cannot open; pass the values they "
                f"provide with -c: {' '.join(f'-c {_short(self.name, key)}=VALUE' for key in missing)}"
            )
        if missing:
            raise ProjectError(
                f"{self.project_file}:{self.declarations[missing[0]].line}: Stack '{stack_name}' is missing "
                f"configuration value '{_short(self.name, missing[0])}': set it in {stack_file.name} "
                f"or pass -c {_short(self.name, missing[0])}=VALUE"
            )


def load_project(directory: str | Path) -> PulumiProject:
    directory = Path(directory).resolve()
    project_file = directory / "Pulumi.yaml"
    if not project_file.exists():
        if (directory / "Pulumi.yml").exists():
            project_file = directory / "Pulumi.yml"
        else:
            raise ProjectError(
                f"{directory} has no Pulumi.yaml: pass --program the directory of a Pulumi project"
            )
    doc, root = _load_yaml(project_file)
    if not isinstance(doc, dict):
        raise ProjectError(f"{project_file}:1: a project file is a mapping with at least name: and runtime:")

    def fail(message: str, *path: str) -> ProjectError:
        return ProjectError(f"{project_file}:{_line(root, *path)}: {message}")

    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise fail("project is missing a 'name' attribute", "name")
    if not PROJECT_NAME.match(name):
        raise fail(
            f"project name {name!r} may only contain alphanumerics, hyphens, underscores, and periods", "name"
        )
    runtime = doc.get("runtime")
    if runtime is None:
        raise fail("project is missing a 'runtime' attribute")
    options: dict[str, Any] = {}
    if isinstance(runtime, dict):
        unknown = set(runtime) - RUNTIME_KEYS
        if unknown:
            raise fail(f"runtime: unknown key(s) {sorted(unknown)}; allowed: name, options", "runtime")
        options = runtime.get("options") or {}
        if not isinstance(options, dict):
            raise fail("runtime.options must be a mapping", "runtime", "options")
        runtime = runtime.get("name")
    if runtime != "python":
        raise fail(f"runtime is {runtime!r}; the offline preview runs Python programs", "runtime")
    toolchain = options.get("toolchain", "pip")
    if toolchain not in PYTHON_TOOLCHAINS:
        raise fail(
            f"runtime.options.toolchain {toolchain!r} is not supported; use one of {', '.join(PYTHON_TOOLCHAINS)}",
            "runtime",
            "options",
            "toolchain",
        )
    typechecker = options.get("typechecker")
    if typechecker is not None and typechecker not in PYTHON_TYPECHECKERS:
        raise fail(
            f"runtime.options.typechecker {typechecker!r} is not supported; use one of "
            f"{', '.join(PYTHON_TYPECHECKERS)}",
            "runtime",
            "options",
            "typechecker",
        )
    virtualenv = options.get("virtualenv")
    if virtualenv is not None and not isinstance(virtualenv, str):
        raise fail("runtime.options.virtualenv must be a path", "runtime", "options", "virtualenv")

    for key in ("main", "stackConfigDir", "description"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise fail(f"{key} must be a string", key)
    main = directory / str(doc.get("main") or ".")
    main_dir = main if main.is_dir() else main.parent
    if main.is_dir():
        main = main / "__main__.py"
    if not main.exists():
        raise fail(
            f"the program's entry point {main} does not exist (main: {doc.get('main') or '.'})", "main"
        )

    config = doc.get("config")
    stack_config_dir = doc.get("stackConfigDir")
    if isinstance(config, str):  # the deprecated spelling of stackConfigDir
        stack_config_dir, config = stack_config_dir or config, None
    if config is not None and not isinstance(config, dict):
        raise fail("config must be a mapping of keys to declarations", "config")
    declarations: dict[str, ConfigDeclaration] = {}
    defaults: dict[str, object] = {}
    for key, spec in (config or {}).items():
        key = str(key)
        full_key = key if ":" in key else f"{name}:{key}"
        line = _line(root, "config", key)
        if isinstance(spec, dict):
            declaration = _declaration(project_file, name, key, full_key, spec, line)
            declarations[full_key] = declaration
            if "value" in spec:
                defaults[full_key] = spec["value"]
            elif declaration.has_default:
                defaults[full_key] = declaration.default
        elif isinstance(spec, (str, int, float, bool, list)):
            defaults[full_key] = spec
        else:
            raise ProjectError(f"{project_file}:{line}: config.{key}: expected a value or a declaration")
    return PulumiProject(
        directory=directory,
        name=name,
        main=main,
        config_defaults=defaults,
        main_dir=main_dir.resolve(),
        stack_config_dir=(directory / stack_config_dir).resolve() if stack_config_dir else None,
        declarations={k: d for k, d in declarations.items() if k.startswith(f"{name}:")},
        toolchain=toolchain,
        virtualenv=(directory / virtualenv) if virtualenv else None,
    )


def _declaration(
    project_file: Path, project: str, key: str, full_key: str, spec: dict[str, Any], line: int
) -> ConfigDeclaration:
    def fail(message: str) -> ProjectError:
        return ProjectError(f"{project_file}:{line}: config.{key}: {message}")

    unknown = set(spec) - DECLARATION_KEYS
    if unknown:
        raise fail(f"unknown attribute(s) {sorted(unknown)}; allowed: {', '.join(sorted(DECLARATION_KEYS))}")
    config_type = spec.get("type")
    if config_type is not None and config_type not in CONFIG_TYPES:
        raise fail(f"type {config_type!r} is not a config type; use one of {', '.join(CONFIG_TYPES)}")
    if not full_key.startswith(f"{project}:") and config_type is not None:
        raise fail(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
    if config_type == "array":
        _check_items(spec.get("items"), fail)
    if "default" in spec and "value" in spec:
        raise fail("declare either default: or value:, not both")
    if config_type and "default" in spec and not _matches_type(spec["default"], config_type, False):
        raise fail(f"default {spec['default']!r} is not of type '{config_type}'")
    if "secret" in spec and not isinstance(spec["secret"], bool):
        raise fail("secret must be true or false")
    return ConfigDeclaration(
        key=full_key,
        type=config_type,
        secret=bool(spec.get("secret")),
        default=spec.get("default"),
        has_default="default" in spec,
        line=line,
    )


def _check_items(items: Any, fail: Any) -> None:
    if not isinstance(items, dict) or "type" not in items:
        raise fail("an array declares the type of its items (items: {type: string})")
    if items["type"] not in CONFIG_TYPES:
        raise fail(f"items type {items['type']!r} is not a config type; use one of {', '.join(CONFIG_TYPES)}")
    if items["type"] == "array":
        _check_items(items.get("items"), fail)


def _matches_type(value: object, config_type: str, from_command_line: bool) -> bool:
    """Whether a config value has the declared type; -c values are strings, so they are parsed."""
    if isinstance(value, str) and (from_command_line or config_type in ("integer", "boolean")):
        if config_type == "integer":
            return bool(re.fullmatch(r"-?\d+", value.strip()))
        if config_type == "boolean":
            return value in ("true", "false", "True", "False")
        if config_type in ("array", "object"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                return False
            return isinstance(parsed, list if config_type == "array" else dict)
        return True
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[config_type]


def _environments(stack_file: Path, value: object, root: yaml.Node | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        imports = value.get("imports") or []
        return [str(item) for item in imports] if isinstance(imports, list) else [str(imports)]
    raise ProjectError(
        f"{stack_file}:{_line(root, 'environment')}: environment: expected a list of environments"
    )


def _short(project: str, key: str) -> str:
    return key.split(":", 1)[1] if key.startswith(f"{project}:") else key


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ProjectError(f"{path}{line}: not valid YAML: {problem}") from error


def _line(root: yaml.Node | None, *path: str | tuple[str, ...]) -> int:
    """1-based line of the deepest key of `path` found in the YAML document (1 when absent).

    A path element may be a tuple of alternative spellings, e.g. ("bucketName", "proj:bucketName").
    """
    node, line = root, 1
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        names = key if isinstance(key, tuple) else (key,)
        match = next(((k, v) for k, v in node.value if k.value in names), None)
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line


def _as_config_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
