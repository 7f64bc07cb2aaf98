"""Drift between the SQLModel models (core.models) and live schemas built from them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import core.models  # noqa: F401 - registers the models on SQLModel.metadata
from dashboard.logfilters import ScrubbingFormatter
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


# ---- a foreign key whose options differ is one difference, not a missing and an extra key ----


@pytest.fixture(scope="module")
def on_delete_schema() -> Iterator[str]:
    yield from models_schema(
        "drift_fk",
        "ALTER TABLE tasks DROP CONSTRAINT fk_tasks_user_id_users;"
        "ALTER TABLE tasks ADD CONSTRAINT fk_tasks_user_id_users FOREIGN KEY (user_id) "
        "REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;"
        "CREATE TABLE alembic_version (version_num text)",
    )


def test_a_foreign_key_differing_only_in_on_delete_is_reported_once(use_schema, on_delete_schema):
    use_schema(on_delete_schema)
    report = drift_report()
    assert [(d.kind, d.label, d.table) for d in report.differences] == [
        ("foreign_key_mismatch", "changed", "tasks")
    ]
    assert report.differences[0].sentence == (
        "Foreign key “fk_tasks_user_id_users” tasks(user_id) → users(id) differs: "
        "ON DELETE is SET NULL in the database but CASCADE in the model; "
        "DEFERRABLE is DEFERRABLE in the database but NOT DEFERRABLE in the model; "
        "INITIALLY is DEFERRED in the database but IMMEDIATE in the model."
    )


# ---- SCHEMA_MODELS: off unless set, and imported with ALEMBIC_PYTHONPATH ----


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, "", "   "])
def test_no_models_module_means_no_drift_card_but_a_line_saying_how(
    settings, viewer_client, use_schema, on_delete_schema, caplog, value
):
    use_schema(on_delete_schema)  # it has drift: the card would show if the check ran
    if value is None:
        del settings.SCHEMA_MODELS
    else:
        settings.SCHEMA_MODELS = value
    report = drift_report()
    assert report.off and report.ok and report.differences == [] and not report.error
    for url, headers in (
        ("/schema/", {}),
        ("/migrations/?part=drift", {"HTTP_HX_REQUEST": "true"}),
    ):
        page = viewer_client.get(url, **headers).content.decode()
        assert "No drift check: set <code>SCHEMA_MODELS</code>" in page
        assert "differs from the models" not in page and "Empty module name" not in page
    assert not [record for record in caplog.records if record.exc_info]


def test_the_setting_defaults_to_off():
    import os
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k != "SCHEMA_MODELS"}
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.SCHEMA_MODELS)"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "\n"


@pytest.mark.django_db
def test_a_failing_models_import_logs_its_traceback_once_not_per_request(
    settings, viewer_client, use_schema, agreeing_schema, caplog
):
    use_schema(agreeing_schema)
    settings.SCHEMA_MODELS = "schematest_missing_once.models"
    for _ in range(3):
        assert "could not be imported" in viewer_client.get("/schema/").content.decode()
    logged = [r for r in caplog.records if "schematest_missing_once" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info


@pytest.mark.django_db
def test_a_models_import_failing_with_a_url_shows_and_logs_no_password(
    settings, viewer_client, use_schema, agreeing_schema, caplog, tmp_path, monkeypatch
):
    use_schema(agreeing_schema)
    (tmp_path / "schematest_leaky_models.py").write_text(
        "raise RuntimeError('cannot reach postgresql://shop:hunter2-pw@db.internal/shop')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.SCHEMA_MODELS = "schematest_leaky_models"
    page = viewer_client.get("/schema/").content.decode()
    assert "could not be imported" in page and "postgresql://shop:***@db.internal" in page
    assert "hunter2-pw" not in page
    [record] = [r for r in caplog.records if "schematest_leaky_models" in r.getMessage()]
    line = ScrubbingFormatter("%(levelname)s %(message)s").format(record)
    assert "RuntimeError" in line and "hunter2-pw" not in line  # the traceback too


def test_the_models_module_is_imported_with_alembic_pythonpath(
    settings, use_schema, agreeing_schema, tmp_path
):
    import sys

    use_schema(agreeing_schema)
    name = f"drift_pp_{secrets.token_hex(4)}"
    # A module of the project's own folder, re-exporting the models (no new tables).
    (tmp_path / f"{name}.py").write_text("from core.models import *  # noqa: F403\n")
    settings.ALEMBIC_PYTHONPATH = str(tmp_path)
    settings.SCHEMA_MODELS = name
    try:
        report = drift_report()  # the Migrations page was never visited in between
        assert not report.error and report.ok
    finally:
        sys.modules.pop(name, None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


def test_the_comparison_is_made_once_per_schema_fingerprint(use_schema, monkeypatch):
    from dashboard.schema import drift

    compared: list[str] = []
    real = drift.compare

    def spy(conn, metadata, schema):
        compared.append(schema)
        return real(conn, metadata, schema)

    monkeypatch.setattr(drift, "compare", spy)
    for schema in models_schema("drift_cache"):
        use_schema(schema)
        assert drift_report().ok and drift_report().ok
        assert compared == [schema]
        run_in_schema(schema, "ALTER TABLE tasks ADD COLUMN legacy_flag boolean")
        changed = drift_report()
        assert [d.kind for d in changed.differences] == ["extra_column"]
        assert compared == [schema, schema]


@pytest.mark.django_db
def test_a_long_drift_is_counted_beyond_what_the_page_lists(viewer_client, use_schema):
    from dashboard.schema.drift import SHOWN_DIFFERENCES

    extra = "".join(f"CREATE TABLE extra_{n:03d} (id int);" for n in range(SHOWN_DIFFERENCES + 5))
    for schema in models_schema("drift_long", extra):
        use_schema(schema)
        page = viewer_client.get("/schema/").content.decode()
        assert page.count('data-kind="extra_table"') == SHOWN_DIFFERENCES
        assert "… and 5 more, among them 5 tables no model defines." in page
