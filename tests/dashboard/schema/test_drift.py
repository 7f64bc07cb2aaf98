"""Drift between the SQLModel models (core.models) and live schemas built from them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import core.models  # noqa: F401 - registers the models on SQLModel.metadata
from dashboard.schema.drift import drift_report
from tests.dashboard.schema.builders import (
    create_schema,
    drop_schema,
    owner_url,
    run_in_schema,
    unique_schema_name,
)

# Every kind of drift the page must put into words, made by hand on a copy of the models.
DRIFT_DDL = """
ALTER TABLE tasks DROP COLUMN recurrence;
ALTER TABLE tasks ADD COLUMN legacy_flag boolean;
ALTER TABLE tasks ALTER COLUMN title TYPE text;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
DROP INDEX ix_tasks_completed;
CREATE INDEX tasks_due_date_idx ON tasks (due_date);
ALTER TABLE messages DROP CONSTRAINT fk_messages_conversation_id_conversations;
DROP TABLE conversations;
CREATE TABLE audit_trail (id integer PRIMARY KEY);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
"""


def models_schema(purpose: str, then: str = "") -> Iterator[str]:
    """Yield a schema created from the models (like a fresh `alembic upgrade head`)."""
    schema = unique_schema_name(purpose)
    create_schema(schema)
    engine = create_engine(owner_url().replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("SELECT set_config('search_path', :schema, true)"), {"schema": schema}
            )
            SQLModel.metadata.create_all(conn)
        if then:
            run_in_schema(schema, then)
        yield schema
    finally:
        engine.dispose()
        drop_schema(schema)


@pytest.fixture(scope="module")
def agreeing_schema() -> Iterator[str]:
    yield from models_schema("drift_ok", "CREATE TABLE alembic_version (version_num text)")


@pytest.fixture(scope="module")
def drifted_schema() -> Iterator[str]:
    yield from models_schema("drift_bad", DRIFT_DDL)


def test_no_differences_when_the_database_matches_the_models(use_schema, agreeing_schema):
    use_schema(agreeing_schema)
    report = drift_report()
    assert report.models_module == "core.models"
    assert report.schema == agreeing_schema
    assert report.differences == []  # alembic_version is Alembic's, not drift
    assert report.ok and not report.error


def test_each_difference_is_a_sentence(use_schema, drifted_schema):
    use_schema(drifted_schema)
    report = drift_report()
    assert not report.ok and not report.error
    found = {(d.kind, d.table, d.column): d.sentence for d in report.differences}
    expected = {
        ("missing_table", "conversations", ""): (
            "Table “conversations” is defined in the models but does not exist in the database."
        ),
        ("extra_table", "audit_trail", ""): (
            "Table “audit_trail” exists in the database but no model defines it."
        ),
        ("missing_column", "tasks", "recurrence"): (
            "Column “tasks.recurrence” (TEXT) is defined in the model but missing from the "
            "database."
        ),
        ("extra_column", "tasks", "legacy_flag"): (
            "Column “tasks.legacy_flag” (BOOLEAN) exists in the database but not in the model."
        ),
        ("type_mismatch", "tasks", "title"): (
            "Column “tasks.title” is TEXT in the database but VARCHAR(200) in the model."
        ),
        ("nullability_mismatch", "users", "name"): (
            "Column “users.name” is NOT NULL in the database but nullable in the model."
        ),
        ("missing_index", "tasks", ""): (
            "Index “ix_tasks_completed” on tasks(completed) is defined in the models but "
            "missing from the database."
        ),
        ("extra_index", "tasks", ""): (
            "Index “tasks_due_date_idx” on tasks(due_date) exists in the database but not in "
            "the models."
        ),
        ("missing_foreign_key", "messages", ""): (
            "Foreign key “fk_messages_conversation_id_conversations” "
            "messages(conversation_id) → conversations(id) is defined in the models but "
            "missing from the database."
        ),
    }
    assert found == expected  # and nothing about the missing table's indexes or alembic_version
    assert [d.label for d in report.differences if d.table == "conversations"] == ["missing"]
    assert report.counts == {"missing": 4, "extra": 3, "changed": 2}


def test_a_models_module_that_fails_to_import_is_explained(settings, use_schema, agreeing_schema):
    use_schema(agreeing_schema)
    settings.SCHEMA_MODELS = "schematest_no_such_package.models"
    report = drift_report()
    assert not report.ok and report.differences == []
    assert "SCHEMA_MODELS" in report.error
    assert "schematest_no_such_package.models" in report.error
    assert "ModuleNotFoundError" in report.error


@pytest.mark.django_db
def test_schema_page_lists_drift_sentences(viewer_client, use_schema, drifted_schema):
    use_schema(drifted_schema)
    page = viewer_client.get("/schema/").content.decode()
    assert "The database differs from the models" in page
    assert "Column “tasks.title” is TEXT in the database but VARCHAR(200) in the model." in page
    assert 'data-kind="missing_table"' in page
    # Nine differences: folded under a summary (eight or fewer are shown open).
    assert '<details class="drift-details">' in page
    assert "9 differences: 4 missing, 3 extra, 2 changed" in page


@pytest.mark.django_db
def test_schema_page_says_nothing_when_models_agree(viewer_client, use_schema, agreeing_schema):
    use_schema(agreeing_schema)
    page = viewer_client.get("/schema/").content.decode()
    assert "users" in page  # the list is there
    assert 'id="drift"' not in page and "differs from the models" not in page


@pytest.mark.django_db
def test_schema_page_explains_a_broken_models_setting(
    settings, viewer_client, use_schema, agreeing_schema
):
    use_schema(agreeing_schema)
    settings.SCHEMA_MODELS = "schematest_no_such_package.models"
    response = viewer_client.get("/schema/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "(setting SCHEMA_MODELS) could not be imported: ModuleNotFoundError" in page
    assert "tasks" in page  # the table list still renders
