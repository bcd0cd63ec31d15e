"""`make help` lists every target with its `##` description, without bootstrapping anything."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_make_help_lists_every_target_with_its_description():
    phony = re.search(r"^\.PHONY:(.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert phony is not None
    targets = phony.group(1).split()
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    described = {
        line.split()[0]: line.split(maxsplit=1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("  ")
    }
    assert set(described) == set(targets)
    assert all(description.strip() for description in described.values())
    assert "python -m" not in result.stdout  # it lists, it runs nothing
