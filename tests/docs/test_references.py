"""Comments, docstrings and messages point inside the repository: never to a design document the reader
of the repository does not have, nor to an issue number."""

from __future__ import annotations

import re
import subprocess

from tests.paths import REPO_ROOT

OUTSIDE_REFERENCE = re.compile(r"DESIGN(\.md| contract)|\bcontract \d\b|\bissue \d+|LAMBDA_CONTRACT")
ABOUT_THE_RULE = {"tests/docs/test_references.py", "tests/docs/test_links.py"}
"""These two name the forbidden references as test data."""


def tracked_text_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.yaml", "Makefile", "*.toml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [path for path in listed if path not in ABOUT_THE_RULE]


def test_no_file_points_to_a_document_outside_the_repository_or_an_issue():
    found = [
        f"{path}:{number}: {line.strip()}"
        for path in tracked_text_files()
        if (REPO_ROOT / path).is_file()
        for number, line in enumerate((REPO_ROOT / path).read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE_REFERENCE.search(line)
    ]
    assert found == []
