"""Config keys of the project's namespace are checked against Pulumi.yaml's config section as the CLI
checks them, for any program: declared keys pass, others fail naming the nearest declared key."""

from __future__ import annotations

from pathlib import Path

import pytest

from preview.cli import main as preview_main
from preview.project import ProjectError, load_project
from tests.paths import REPO_ROOT

SCHEMA_PROJECT = """name: shop
runtime: python
config:
  aws:region: us-east-1
  replicaCount:
    type: integer
    default: 2
  greeting: hello
"""


def program(directory: Path, project_yaml: str, stack_yaml: str) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(project_yaml)
    (directory / "Pulumi.dev.yaml").write_text(stack_yaml)
    (directory / "__main__.py").write_text("import pulumi\n")
    return directory


def test_an_undeclared_key_in_the_stack_file_names_its_line_and_the_nearest_declared_key(tmp_path: Path):
    directory = program(
        tmp_path / "shop", SCHEMA_PROJECT, "config:\n  aws:region: eu-west-1\n  shop:replicaCont: 3\n"
    )
    with pytest.raises(ProjectError) as raised:
        load_project(directory).load_stack("dev")
    assert str(raised.value) == (
        f"{directory / 'Pulumi.dev.yaml'}:3: Stack 'dev' uses configuration value 'replicaCont' "
        "(did you mean 'replicaCount'?) which is not defined by the project configuration: declare it "
        "under config: in Pulumi.yaml, or fix the name"
    )


def test_an_undeclared_key_given_with_c_is_refused_too(tmp_path: Path):
    directory = program(tmp_path / "shop", SCHEMA_PROJECT, "config: {}\n")
    with pytest.raises(ProjectError, match=r"^-c zone=a: Stack 'dev' uses configuration value 'zone' which"):
        load_project(directory).load_stack("dev", {"shop:zone": "a", "shop:greeting": "hi"})


def test_declared_keys_short_form_values_and_other_namespaces_pass(tmp_path: Path):
    stack = "config:\n  shop:replicaCount: 3\n  greeting: hi\n  aws:profile: ops\n  random:seed: x\n"
    directory = program(tmp_path / "shop", SCHEMA_PROJECT, stack)
    values = load_project(directory).load_stack("dev", {"aws:region": "eu-west-1"}).values
    assert values["shop:replicaCount"] == "3" and values["aws:profile"] == "ops"


def test_a_project_without_a_config_section_takes_any_key_as_the_cli_does(tmp_path: Path):
    directory = program(tmp_path / "shop", "name: shop\nruntime: python\n", "config:\n  shop:anything: 1\n")
    assert load_project(directory).load_stack("dev", {"shop:more": "2"}).values["shop:anything"] == "1"


def test_this_repository_names_the_setting_meant():
    with pytest.raises(ProjectError, match=r"did you mean 'visibilityTimeoutSeconds'\?"):
        load_project(REPO_ROOT).load_stack("production", {"cis-file-pipeline:visiblityTimeoutSeconds": "300"})


def test_the_command_exits_2_with_one_line_naming_the_key_and_the_nearest_one(capsys):
    assert preview_main(["-c", "cis-file-pipeline:visiblityTimeoutSeconds=300"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "error: -c visiblityTimeoutSeconds=300: Stack 'production' uses configuration value"
    )
    assert "'visiblityTimeoutSeconds' (did you mean 'visibilityTimeoutSeconds'?)" in err
