"""The production layout the demo and the tests are prepared with (core.embedded.prepare):
the read-only role reads the application's tables and nothing else; the target role may reset
the statement statistics."""

from __future__ import annotations

import os

import psycopg
import pytest

from core.embedded import OWNER_ROLE, READONLY_ROLE, STATEMENTS_RESET_FUNCTIONS_SQL
from tests.pgplugin import TEST_DATABASE, running_layout


def _as_readonly(*statements: str):
    """Run `statements` one after the other as the read-only role; return the last one's rows."""
    with psycopg.connect(running_layout().url(READONLY_ROLE), autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)  # type: ignore[call-overload]
        return cursor.fetchall()


def test_the_read_only_role_reads_tables_created_later_by_the_migrations():
    # The Alembic head was applied by the owner after prepare(): default privileges apply.
    assert _as_readonly("SELECT count(*) FROM tasks")[0][0] >= 0
    assert _as_readonly("SHOW default_transaction_read_only") == [("on",)]
    with psycopg.connect(os.environ["TARGET_DATABASE_URL"], autocommit=True) as owner:
        owner.execute("CREATE TABLE IF NOT EXISTS qt_embedded_later (id int)")
    try:
        assert _as_readonly("SELECT count(*) FROM qt_embedded_later") == [(0,)]
    finally:
        with psycopg.connect(os.environ["TARGET_DATABASE_URL"], autocommit=True) as owner:
            owner.execute("DROP TABLE qt_embedded_later")


def test_the_read_only_role_has_no_other_power():
    ((superuser, bypassrls, signals, stats, server_files),) = _as_readonly(
        "SELECT rolsuper, rolbypassrls, pg_has_role('pg_signal_backend', 'USAGE'), "
        "pg_has_role('pg_read_all_stats', 'USAGE'), pg_has_role('pg_read_server_files', 'USAGE') "
        "FROM pg_roles WHERE rolname = current_user"
    )
    assert (superuser, signals, stats, server_files) == (False, False, False, False)
    assert bypassrls  # its plans count the rows the application's users see
    for statements in (
        ("SET default_transaction_read_only = off", "INSERT INTO tasks DEFAULT VALUES"),
        ("SELECT lo_from_bytea(0, '\\x01')",),
        ("SELECT pg_logical_emit_message(false, 'qt', 'x')",),
        (f"SET ROLE {OWNER_ROLE}",),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as_readonly(*statements)


def test_the_owner_may_switch_to_the_read_only_role():
    with psycopg.connect(os.environ["TARGET_DATABASE_URL"], autocommit=True) as owner:
        owner.execute(f"SET ROLE {READONLY_ROLE}")
        assert owner.execute("SELECT current_user").fetchone()[0] == READONLY_ROLE


def _superuser(dbname: str = TEST_DATABASE) -> psycopg.Connection:
    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(url, autocommit=True)


def test_the_target_role_may_reset_statement_statistics():
    with _superuser() as conn:
        signatures = [row[0] for row in conn.execute(STATEMENTS_RESET_FUNCTIONS_SQL)]
        assert signatures  # pg_stat_statements is created in the test database
        for signature in signatures:
            granted = conn.execute(
                "SELECT has_function_privilege(%s, %s, 'EXECUTE')", (OWNER_ROLE, signature)
            ).fetchone()[0]
            assert granted, signature
