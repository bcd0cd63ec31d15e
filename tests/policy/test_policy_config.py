"""Configuration as the CLI reads it: every key a policy reads is in its schema, with a type, a range
and a default that the schema accepts; every policy's enforcement level can be changed by the user."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pulumi_policy
import pytest
from pulumi_policy import EnforcementLevel

from preview.gate import evaluate, load_pack_config, load_policies
from tests.paths import REPO_ROOT
from tests.policy.outside_programs import PROGRAMS
from tests.programs import PipelineProgram, render

POLICIES = load_policies()
CONFIGURABLE = [policy for policy in POLICIES if policy.config_schema is not None]


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> list:
    """Stacks that drive every branch that reads config: the pipeline, and insecure / Lambda programs."""
    root = tmp_path_factory.mktemp("config")
    names = ["explicitly insecure settings", "lambda consumer, visibility shorter than 6x its timeout"]
    rendered = [render(root / "pipeline", PipelineProgram(receive_wait=0).source())]
    rendered += [render(root / str(i), PROGRAMS[name].source) for i, name in enumerate(names)]
    return [stack.resources for stack in rendered]


class RecordingConfig(dict):
    def __init__(self, values: dict) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda policy: policy.name)
def test_every_key_a_policy_reads_is_in_its_schema(policy, stacks, monkeypatch):
    configs: list[RecordingConfig] = []
    for args_class in (pulumi_policy.ResourceValidationArgs, pulumi_policy.StackValidationArgs):

        def capture(self, _original=args_class.get_config):
            config = RecordingConfig(_original(self) or {})
            configs.append(config)
            return config

        monkeypatch.setattr(args_class, "get_config", capture)
    for resources in stacks:
        evaluate(resources, [policy])
    read = set().union(*(config.read for config in configs))
    schema_keys = set(policy.config_schema.properties) if policy.config_schema else set()
    assert read <= schema_keys
    assert read == schema_keys, "a schema key that no branch reads"


@pytest.mark.parametrize("policy", CONFIGURABLE, ids=lambda policy: policy.name)
def test_schemas_have_types_ranges_and_valid_defaults(policy):
    schema = {"type": "object", "properties": policy.config_schema.properties, "additionalProperties": False}
    jsonschema.Draft7Validator.check_schema(schema)
    for key, spec in policy.config_schema.properties.items():
        assert spec.get("type") and spec.get("description"), key
        if spec["type"] in ("integer", "number"):
            assert "minimum" in spec and "maximum" in spec, key
        if spec["type"] == "array":
            assert {"minimum", "maximum"} <= set(spec["items"]), key
    defaults = {key: spec["default"] for key, spec in policy.config_schema.properties.items()}
    jsonschema.validate(defaults, schema)


def test_the_production_pack_config_is_valid_for_each_schema():
    config = json.loads((REPO_ROOT / "policy" / "config.production.json").read_text())
    by_name = {policy.name: policy for policy in POLICIES}
    for name, values in config.items():
        values = {k: v for k, v in values.items() if k != "enforcementLevel"}
        schema = by_name[name].config_schema
        if values:
            jsonschema.validate(
                values, {"type": "object", "properties": schema.properties, "additionalProperties": False}
            )


@pytest.mark.parametrize("level", [level.value for level in EnforcementLevel])
def test_every_policy_takes_every_enforcement_level(tmp_path: Path, level: str):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({policy.name: level for policy in POLICIES}))
    config = load_pack_config(config_file, POLICIES)
    stack = render(tmp_path / "program", PipelineProgram(receive_wait=0, visibility=300).source())
    result = evaluate(stack.resources, POLICIES, config)
    if level == "disabled":
        assert result.policies_evaluated == 0 and result.violations == []
        return
    assert result.policies_evaluated == len(POLICIES)
    assert {violation.level for violation in result.violations} == {level}
    blocking = level in ("mandatory", "remediate")
    assert bool(result.mandatory_violations) is blocking


def test_the_reference_page_lists_every_policy_with_its_level_and_source():
    page = (REPO_ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    rows: dict[str, str] = {}
    for line in page.splitlines():
        if line.startswith("| `"):
            rows.setdefault(line.split("|")[1].strip(" `"), line)  # the rules table comes first
    for policy in POLICIES:
        assert policy.name in rows, policy.name
        assert policy.enforcement_level.value in rows[policy.name].split("|")[2], policy.name
        assert policy.url and policy.url.split("#")[0] in page, policy.name
    for policy in CONFIGURABLE:
        for key in policy.config_schema.properties:
            assert f"| `{policy.name}` | `{key}` |" in page, (policy.name, key)
