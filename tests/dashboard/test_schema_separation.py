"""Django's tables live only in schema `django`; the application's only in `public`."""

from __future__ import annotations

import os

import psycopg
import pytest
from django.apps import apps
from django.db import connection

from tests.pgplugin import TEST_DATABASE

APPLICATION_TABLES = {"users", "tasks", "conversations", "messages", "alembic_version"}


def _tables_by_schema() -> dict[str, set[str]]:
    # As the superuser, through pg_catalog: information_schema hides what a role cannot read.
    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{TEST_DATABASE}"
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class AS c "
            "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'django')"
        ).fetchall()
    result: dict[str, set[str]] = {"public": set(), "django": set()}
    for schema, name in rows:
        result[schema].add(name)
    return result


@pytest.mark.django_db
def test_console_connection_resolves_to_schema_django():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), current_setting('search_path')")
        schema, search_path = cursor.fetchone()
    assert schema == "django"
    assert search_path == "django"


@pytest.mark.django_db
def test_every_django_table_is_in_django_and_none_in_public():
    tables = _tables_by_schema()
    django_tables = {model._meta.db_table for model in apps.get_models()}
    assert django_tables, "no Django models found"
    assert django_tables <= tables["django"]
    assert not django_tables & tables["public"]
    # procrastinate's own tables (created by its migrations) and the cache table too
    prefixes = ("procrastinate", "schemadesk_cache", "django_", "auth_")
    assert not {name for name in tables["public"] if name.startswith(prefixes)}
    assert {"procrastinate_jobs", "schemadesk_cache"} <= tables["django"]


@pytest.mark.django_db
def test_application_tables_are_in_public_only():
    tables = _tables_by_schema()
    assert tables["public"] >= APPLICATION_TABLES
    assert not APPLICATION_TABLES & tables["django"]
