"""The reference tables in docs/ are the code's own declarations, regenerated; stale pages fail here."""

from __future__ import annotations

import pytest

from tests.program import doc_tables


@pytest.mark.parametrize(
    ("page", "name"), [(page, name) for page, tables in doc_tables.TABLES.items() for name in tables]
)
def test_generated_tables_are_current(page, name):
    current = doc_tables.section(page.read_text(), name)
    assert current is not None, f"{page.name} lost its generated:{name} markers"
    assert current == doc_tables.TABLES[page][name](), (
        f"{page.name} is stale: run python -m tests.program.doc_tables --write"
    )


def test_the_config_table_names_every_key_and_the_production_names():
    table = doc_tables.config_table()
    assert "| `visibilityTimeoutSeconds` | integer | `900` |" in table
    assert "`file-processing-queue-production`" in table
    assert "| `privateSubnetIds` | array | `[]` |" in table
