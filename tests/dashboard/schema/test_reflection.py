"""Reflection cache: reflects the target, refreshes when the schema changes."""

from __future__ import annotations

import psycopg
import pytest
from django.http import Http404

from dashboard.schema import reflection as refl
from tests.pgplugin import running_layout


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.REFLECTION_CHECK_SECONDS = 0
    refl.invalidate()
    yield
    refl.invalidate()


def test_reflects_application_tables_only():
    names = set(refl.reflection().tables)
    assert {"users", "tasks", "conversations", "messages"} <= names
    assert not any(name.startswith(("auth_", "django_")) for name in names)


def test_unknown_table_is_a_404_with_a_sentence():
    with pytest.raises(Http404, match="no table called “nope”"):
        refl.table_named("nope")


def test_schema_change_is_picked_up_and_unchanged_schema_reuses_cache():
    first = refl.reflection()
    assert refl.reflection() is first  # same fingerprint: same object
    owner_url = running_layout().environment()["APP_DIRECT_URL"]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute('CREATE TABLE "user" ("Mixed Case" int, id uuid PRIMARY KEY)')
    try:
        second = refl.reflection()
        assert second is not first
        assert "user" in second.tables
        assert "Mixed Case" in second.tables["user"].c
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute('DROP TABLE "user"')
    assert "user" not in refl.reflection().tables


def test_hundreds_of_tables_reflect_with_their_keys(use_schema, many_schema):
    from tests.dashboard.schema.builders import MANY_TABLES

    use_schema(many_schema)
    tables = refl.reflection().tables
    assert len(tables) == MANY_TABLES
    assert [fk.target_fullname for fk in tables["t151"].foreign_keys] == [f"{many_schema}.t150.id"]
    assert refl.table_named("t299").c.keys() == ["id", "label", "amount", "parent_id"]


def test_mixed_case_schema_fingerprint_sees_changes(settings):
    owner_url = running_layout().environment()["APP_DIRECT_URL"]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "MixedCase_Refl"')
        conn.execute('CREATE TABLE "MixedCase_Refl".a (id int)')
    settings.TARGET = {**settings.TARGET, "SCHEMA": "MixedCase_Refl"}
    try:
        assert set(refl.reflection().tables) == {"a"}
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute('CREATE TABLE "MixedCase_Refl".b (id int)')
        assert set(refl.reflection().tables) == {"a", "b"}
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute('DROP SCHEMA "MixedCase_Refl" CASCADE')
