"""Reflection cache: reflects the target, refreshes when the schema changes."""

from __future__ import annotations

import gc
import threading
import time
import weakref

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


def test_a_changed_default_changes_the_fingerprint():
    owner_url = running_layout().environment()["APP_DIRECT_URL"]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE refl_defaults (id int PRIMARY KEY, state text DEFAULT 'a')")
    try:
        first = refl.reflection()
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("ALTER TABLE refl_defaults ALTER COLUMN state SET DEFAULT 'b'")
        assert refl.reflection().fingerprint != first.fingerprint
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("DROP TABLE refl_defaults")


def test_requests_arriving_together_share_one_reflection(monkeypatch):
    calls: list[str] = []
    started = threading.Event()
    original = refl._reflect

    def slow_reflect(conn, schema):
        calls.append(schema)
        started.set()
        time.sleep(0.3)  # long enough for every thread to arrive while this one reflects
        return original(conn, schema)

    monkeypatch.setattr(refl, "_reflect", slow_reflect)
    results: list[refl.Reflection] = []
    threads = [threading.Thread(target=lambda: results.append(refl.reflection())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert started.is_set()
    assert len(calls) == 1
    assert len({id(result) for result in results}) == 1


def test_the_reflection_is_frozen_out_of_the_collectors_way_and_the_old_one_freed():
    first = refl.reflection()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    old_metadata = weakref.ref(first.metadata)
    del first
    refl.reflection(force=True)
    assert gc.isenabled()
    assert old_metadata() is None  # collected on the next reflection, not kept frozen
