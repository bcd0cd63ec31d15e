"""A config key of the project's namespace that the program does not read fails the program itself,
so the real CLI (and anything else that runs it) refuses a typo instead of keeping the default."""

from __future__ import annotations

import json

import pytest
import yaml

from components.settings import (
    UnknownSettingError,
    given_config_keys,
    known_config_keys,
    reject_unknown_keys,
)
from preview.project import load_project
from preview.render import ProgramError, render_in_process
from tests.paths import REPO_ROOT
from tests.program.test_pipeline import PROJECT


def test_every_key_the_program_reads_is_declared_in_pulumi_yaml_and_nothing_else():
    declared = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(known_config_keys()) == set(declared)


def test_a_typo_names_the_key_and_the_nearest_known_one():
    given = {f"{PROJECT}:{key}" for key in known_config_keys()} | {f"{PROJECT}:visiblityTimeoutSeconds"}
    with pytest.raises(UnknownSettingError) as raised:
        reject_unknown_keys(given, PROJECT)
    assert f"{PROJECT}:visiblityTimeoutSeconds (did you mean visibilityTimeoutSeconds?)" in str(raised.value)


def test_every_unknown_key_is_named_at_once_and_other_namespaces_are_left_to_their_providers():
    given = {"aws:region", "aws:skipMetadataApiCheck", f"{PROJECT}:maxRecieveCount", f"{PROJECT}:colour"}
    with pytest.raises(UnknownSettingError) as raised:
        reject_unknown_keys(given, PROJECT)
    message = str(raised.value)
    assert f"{PROJECT}:colour" in message and "(did you mean maxReceiveCount?)" in message
    assert "aws:" not in message
    reject_unknown_keys({"aws:region", "other-project:anything", f"{PROJECT}:maxReceiveCount"}, PROJECT)


def test_the_keys_come_from_pulumi_config_as_the_cli_language_host_passes_them(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({f"{PROJECT}:visiblityTimeoutSeconds": "300"}))
    assert f"{PROJECT}:visiblityTimeoutSeconds" in given_config_keys()


def test_the_program_refuses_a_key_the_project_file_checks_did_not_see():
    """Rendered past the preview's own project-file check (as under the Automation API or a CLI whose
    Pulumi.yaml declared the key): the program itself stops with the key and the nearest known one."""
    project = load_project(REPO_ROOT)
    stack_config = project.load_stack("production")
    stack_config.values[f"{PROJECT}:visiblityTimeoutSeconds"] = "300"
    with pytest.raises(ProgramError) as raised:
        render_in_process(project, stack_config, {})
    assert "visiblityTimeoutSeconds (did you mean visibilityTimeoutSeconds?)" in str(raised.value)
