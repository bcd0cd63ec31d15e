"""The pages that copy what the code declares are generated from it, and fail here when stale."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pipeline_policies  # pytest puts policy/ on sys.path, as the pack runs
import yaml

from tests.paths import REPO_ROOT


def relative(paths: list[Path], root: Path = REPO_ROOT) -> list[str]:
    return [str(path.relative_to(root)) for path in paths]


def test_no_generated_page_is_stale(generate, production):
    stale = generate.stale(generate.pages(production))
    assert not stale, f"stale generated docs {relative(stale)}: run `make docs` (docs/generate.py)"


def test_check_mode_names_a_stale_page_and_writes_nothing(generate, production, tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.production.yaml", "pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(
        REPO_ROOT / "policy", tmp_path / "policy", ignore=shutil.ignore_patterns("venv", "__pycache__")
    )
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO_ROOT / "docs" / "architecture.md", tmp_path / "docs" / "architecture.md")
    for path, text in generate.pages(production, tmp_path).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert generate.stale(generate.pages(production, tmp_path)) == []

    project = yaml.safe_load((tmp_path / "Pulumi.yaml").read_text(encoding="utf-8"))
    project["config"]["newSetting"] = {"type": "integer", "description": "A knob added later.", "default": 7}
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(project), encoding="utf-8")
    before = (tmp_path / "docs" / "reference" / "configuration.md").read_text(encoding="utf-8")

    assert relative(generate.stale(generate.pages(production, tmp_path)), tmp_path) == [
        "docs/reference/configuration.md"
    ]
    assert (tmp_path / "docs" / "reference" / "configuration.md").read_text(encoding="utf-8") == before


def test_configuration_page_lists_every_declared_key_with_its_default(generate):
    declared = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]
    rows = {
        line.split("|")[1].strip(): line
        for line in generate.configuration_page().splitlines()
        if line.startswith("| `")
    }
    for key, schema in declared.items():
        assert f"`{key}`" in rows, key
        if isinstance(schema, dict) and "default" in schema:
            default = schema["default"]
            shown = json.dumps(default) if isinstance(default, list | dict) else str(default) or '""'
            assert f"`{shown}`" in rows[f"`{key}`"], key


def test_configuration_page_reads_projects_written_elsewhere(generate, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(
        textwrap.dedent(
            """\
            name: billing-api
            runtime: python
            config:
              aws:region:
                value: eu-west-1
              namePrefix:
                type: string
                default: ""
              dbPassword:
                type: string
                secret: true
                description: Password of the | reporting user.
              replicas:
                type: integer
                description: >-
                  How many copies
                  run at once.
                default: 2
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  billing-api:dbPassword:\n    secure: AAABAJx1\n  replicas: 1\n  aws:region: eu-west-3\n",
        encoding="utf-8",
    )
    text = generate.configuration_page(tmp_path)
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| `")}
    assert rows["| `dbPassword`"].split(" | ")[1:4] == ["string, secret", "required", "[secret]"]
    assert rows["| `namePrefix`"].split(" | ")[2] == '`""`'
    assert rows["| `aws:region`"].split(" | ")[2] == "`eu-west-1`"
    assert "AAABAJx1" not in text
    assert "\\|" in rows["| `dbPassword`"]  # a pipe in a description does not split the table
    assert "How many copies run at once." in rows["| `replicas`"]
    assert "`2`" in rows["| `replicas`"] and "`1`" in rows["| `replicas`"]
    assert "`aws:region`" in text and "`eu-west-3`" in text


def test_policies_page_lists_every_policy_with_its_level(generate):
    rows: dict[str, str] = {}
    for line in generate.policies_page().splitlines():  # the first table; the settings table comes later
        rows.setdefault(line.split(" | ")[0].removeprefix("| "), line)
    for policy in pipeline_policies.POLICIES:
        row = rows[f"`{policy.name}`"]
        assert row.split(" | ")[1] == generate._level_name(policy.enforcement_level)


def test_policies_page_shows_the_level_a_stack_config_sets(generate, tmp_path):
    policy = pipeline_policies.POLICIES[0]
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "config.staging.json").write_text(
        json.dumps({policy.name: "disabled"}), encoding="utf-8"
    )
    (tmp_path / "policy" / "config.qa.json").write_text(json.dumps({"all": {"enforcementLevel": "advisory"}}))
    text = generate.policies_page(tmp_path)
    header = next(line for line in text.splitlines() if line.startswith("| policy | level"))
    assert "`qa` config" in header and "`staging` config" in header
    row = next(line for line in text.splitlines() if line.startswith(f"| `{policy.name}`"))
    assert row.split(" | ")[2:4] == ["advisory", "disabled"]


def test_alarm_page_lists_every_rendered_alarm(generate, production):
    text = generate.alarms_page(production)
    alarms = production.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarms
    for alarm in alarms:
        assert f"### {alarm.inputs['name']}" in text
        assert alarm.inputs["alarmDescription"].split(":")[0] in text
    rolling_back = [line for line in text.splitlines() if line.startswith("| [") and line.endswith("| yes |")]
    group = production.of_type("aws:autoscaling/group:Group")[0]
    assert len(rolling_back) == len(
        group.inputs["instanceRefresh"]["preferences"]["alarmSpecification"]["alarms"]
    )


def test_import_rules_follow_forbidden_contracts_and_their_exceptions(generate, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.importlinter]
            root_packages = ["api", "core", "jobs", "cli"]

            [[tool.importlinter.contracts]]
            name = "core stands alone"
            type = "forbidden"
            source_modules = ["core"]
            forbidden_modules = ["api", "jobs", "cli"]

            [[tool.importlinter.contracts]]
            name = "api uses only core's models"
            type = "forbidden"
            source_modules = ["api"]
            forbidden_modules = ["core", "jobs", "cli"]
            ignore_imports = ["api.** -> core.models"]

            [[tool.importlinter.contracts]]
            name = "layers"
            type = "layers"
            layers = ["cli", "jobs", "core"]
            """
        ),
        encoding="utf-8",
    )
    parts, allowed, contracts = generate.import_rules(tmp_path)
    assert parts == ["api", "core", "jobs", "cli"]
    assert allowed["core"] == []
    assert allowed["api"] == ["core.models"]
    assert allowed["jobs"] == ["api", "core", "cli"]
    assert len(contracts) == 3
    block = generate.imports_architecture_block(tmp_path)
    assert "*layers* (layers)" in block


def test_blocks_are_replaced_between_their_markers_only(generate):
    text = "intro\n<!-- generated:imports -->\nold\n<!-- end generated:imports -->\nkept\n<!-- generated:other -->\nx\n"
    filled = generate.fill_blocks(text, {"imports": "new\n"})
    assert filled == text.replace("old\n", "new\n")


def test_one_generator_writes_every_generated_table(generate, production):
    """docs/generate.py is the only generator: it owns monitoring.md's alarm table too, with one marker syntax."""
    expected = generate.pages(production)
    monitoring = expected[REPO_ROOT / "docs" / "monitoring.md"]
    assert "<!-- generated:alarms -->\n| Alarm | Compute |" in monitoring
    assert "| `<prefix>-function-errors` | lambda |" in monitoring
    assert "| `<prefix>-dlq-has-messages` | both |" in monitoring
    for page in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]:
        assert ":start -->" not in page.read_text(encoding="utf-8"), f"{page.name}: a second marker syntax"
