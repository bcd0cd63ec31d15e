"""Shared fixtures: the production stack rendered once under mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.render import RenderedStack, render_program

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def production() -> RenderedStack:
    return render_program(REPO_ROOT, "production")
