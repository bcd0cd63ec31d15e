"""`python -m preview --sarif FILE`: a SARIF 2.1.0 log that the OASIS schema accepts, one result per
violation at the line that declared the resource, and no result for a clean stack."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from preview.cli import main
from tests.paths import REPO_ROOT
from tests.programs import write_program

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())
"""The OASIS SARIF 2.1.0 schema (Schemata/sarif-schema-2.1.0.json of the standard), as SchemaStore
publishes it."""

FAILING_PROGRAM = """
queue = aws.sqs.Queue("lonely", name="lonely", sqs_managed_sse_enabled=False)
"""


def sarif(tmp_path: Path, *args: str) -> tuple[int, dict]:
    path = tmp_path / "out" / "gate.sarif"
    code = main([*args, "--sarif", str(path)])
    document = json.loads(path.read_text())
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)
    return code, document


def test_each_violation_is_a_result_at_the_line_that_declared_its_resource(tmp_path, capsys, monkeypatch):
    program = write_program(tmp_path / "program", FAILING_PROGRAM)
    monkeypatch.chdir(tmp_path)
    code, document = sarif(tmp_path, "--program", str(program), "--stack", "dev", "--json")
    gate = json.loads(capsys.readouterr().out)
    assert code == 1
    (run,) = document["runs"]
    results = run["results"]
    assert len(results) == len(gate["violations"]) > 0
    expected = {
        (v["policy"], "error" if v["level"] == "mandatory" else "warning") for v in gate["violations"]
    }
    assert {(r["ruleId"], r["level"]) for r in results} == expected
    assert ("sqs-encryption-at-rest", "error") in expected
    declared_line = (program / "__main__.py").read_text().splitlines().index(
        FAILING_PROGRAM.splitlines()[1]
    ) + 1
    encryption = next(r for r in results if r["ruleId"] == "sqs-encryption-at-rest")
    location = encryption["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "program/__main__.py"},
        "region": {"startLine": declared_line},
    }
    rules = run["tool"]["driver"]["rules"]
    assert rules[encryption["ruleIndex"]]["id"] == "sqs-encryption-at-rest"
    assert all(rule["shortDescription"]["text"] for rule in rules)


def test_a_resource_declared_in_a_module_of_the_program_points_at_that_module(tmp_path, monkeypatch):
    program = write_program(tmp_path / "program", "import queues\n")
    (program / "queues.py").write_text(
        'import pulumi_aws as aws\n\n\ndef declare():\n    return aws.sqs.Queue("q", sqs_managed_sse_enabled=False)\n\n\ndeclare()\n'
    )
    monkeypatch.chdir(tmp_path)
    _, document = sarif(tmp_path, "--program", str(program), "--stack", "dev")
    encryption = next(r for r in document["runs"][0]["results"] if r["ruleId"] == "sqs-encryption-at-rest")
    assert encryption["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "program/queues.py"},
        "region": {"startLine": 5},
    }
    assert encryption["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("::q")


def test_the_production_stack_has_an_empty_results_list_and_every_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    code, document = sarif(tmp_path)
    assert code == 0
    (run,) = document["runs"]
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) >= 10


def test_a_sarif_path_that_cannot_be_written_is_one_error_line(tmp_path, capsys, monkeypatch):
    program = write_program(tmp_path / "program", FAILING_PROGRAM)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["--program", str(program), "--stack", "dev", "--sarif", str(blocker / "gate.sarif")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --sarif {blocker / 'gate.sarif'}: cannot be written (")
    assert err.count("\n") == 1
