"""Shared by every test group: the production stack rendered once, and the `slow` marker.

Tests that start moto server (any test using `aws_endpoint`), subprocesses or the drill are `slow`;
`make test-fast` runs the rest (`-m "not slow"`).
"""

from __future__ import annotations

import pytest

from preview.render import RenderedStack, render_program
from tests.paths import REPO_ROOT

pytest_plugins = ["tests.local_aws"]


@pytest.fixture(scope="session")
def production() -> RenderedStack:
    return render_program(REPO_ROOT, "production")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "aws_endpoint" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
