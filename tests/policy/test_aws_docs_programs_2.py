"""The second outside set written from AWS's documentation: each program gets exactly the verdict AWS's
behaviour gives it (see `aws_docs_programs_2`). Policy names are not asserted: the set was written without
reading the pack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policy.aws_docs_programs_2 import PROGRAMS
from tests.programs import gate


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_verdict_is_what_aws_does(tmp_path: Path, name: str):
    program = PROGRAMS[name]
    result = gate(tmp_path, program.source)
    said = [f"{v.level} {v.policy}: {v.message}" for v in result.violations + result.could_not_run]
    context = f"{program.reason} ({program.aws_page}); the gate said: {said}"
    assert result.could_not_run == [], context
    if program.verdict == "passes":
        assert result.violations == [], context
    elif program.verdict == "blocks":
        assert result.mandatory_violations, context
    else:
        assert result.violations, context


def test_the_set_is_broad_enough():
    verdicts = [program.verdict for program in PROGRAMS.values()]
    assert len(verdicts) >= 20
    assert verdicts.count("passes") >= 6
    assert len(verdicts) - verdicts.count("passes") >= 14
    assert all(program.aws_page.startswith("https://docs.aws.amazon.com/") for program in PROGRAMS.values())
