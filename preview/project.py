"""Read a Pulumi project directory the way the Pulumi CLI does: Pulumi.yaml and Pulumi.<stack>.yaml.

The CLI merges the project's config defaults with the stack's values and hands the program plain
strings (objects and arrays as JSON); doing the same here lets any program run unchanged offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml


class ProjectError(Exception):
    """The directory is not a runnable Pulumi Python project; the message says what to fix."""


@dataclass(frozen=True)
class PulumiProject:
    directory: Path
    name: str
    main: Path
    config_defaults: dict[str, object]

    def stack_config(self, stack: str) -> dict[str, str]:
        """The config the program sees for `stack`: project defaults, then Pulumi.<stack>.yaml values."""
        values: dict[str, object] = dict(self.config_defaults)
        stack_file = self.directory / f"Pulumi.{stack}.yaml"
        if stack_file.exists():
            stack_doc = _load_yaml(stack_file) or {}
            for key, value in (stack_doc.get("config") or {}).items():
                values[self._full_key(key)] = value
        return {key: _as_config_string(value) for key, value in values.items()}

    def _full_key(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"


def load_project(directory: str | Path) -> PulumiProject:
    directory = Path(directory).resolve()
    project_file = directory / "Pulumi.yaml"
    if not project_file.exists():
        raise ProjectError(
            f"{directory} has no Pulumi.yaml: pass --program the directory of a Pulumi project"
        )
    doc = _load_yaml(project_file) or {}
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(
            f"{project_file}: runtime is {runtime_name!r}; the offline preview runs Python programs"
        )
    name = doc.get("name")
    if not name:
        raise ProjectError(f"{project_file}: the project has no name")
    main = directory / str(doc.get("main") or ".")
    if main.is_dir():
        main = main / "__main__.py"
    if not main.exists():
        raise ProjectError(f"{project_file}: the program's entry point {main} does not exist")
    defaults: dict[str, object] = {}
    for key, spec in (doc.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if isinstance(spec, dict):
            if "value" in spec:
                defaults[full_key] = spec["value"]
            elif "default" in spec:
                defaults[full_key] = spec["default"]
        else:
            defaults[full_key] = spec
    return PulumiProject(directory=directory, name=str(name), main=main, config_defaults=defaults)


def _load_yaml(path: Path) -> dict | None:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProjectError(f"{path} is not valid YAML: {error}") from error


def _as_config_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
