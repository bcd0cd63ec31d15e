"""The docs generator, loaded from its file: docs/ is a folder of pages, not a package."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from tests.paths import REPO_ROOT

GENERATOR = REPO_ROOT / "docs" / "generate.py"


@pytest.fixture(scope="session")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", GENERATOR)
    assert spec and spec.loader, f"cannot load {GENERATOR}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
