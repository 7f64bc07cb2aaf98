"""The production layout the demo, the tests and compose are prepared with (core.embedded):
each of the console's roles in the target may do what its job needs and nothing more."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core import embedded
from core.embedded import (
    APP_ROLE,
    MAINTENANCE_ROLE,
    OWNER_ROLE,
    READER_ROLE,
    READONLY_ROLE,
    STATEMENTS_RESET_FUNCTIONS_SQL,
    database_url,
    schema_reader_sql,
)
from tests.pgplugin import TEST_DATABASE, running_layout

ROOT = Path(__file__).resolve().parents[2]


def _as(role: str, *statements: str, dbname: str | None = None):
    """Run `statements` one after the other as `role`; return the last one's rows."""
    with psycopg.connect(running_layout().url(role, dbname), autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)  # type: ignore[call-overload]
        return cursor.fetchall() if cursor.description else []


def _superuser(dbname: str = TEST_DATABASE) -> psycopg.Connection:
    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{dbname}"
    return psycopg.connect(url, autocommit=True)


def _powers(role: str) -> dict[str, bool]:
    with _superuser() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, "
            "pg_has_role(oid, 'pg_signal_backend', 'USAGE'), "
            "pg_has_role(oid, 'pg_read_all_stats', 'USAGE'), "
            "pg_has_role(oid, 'pg_read_server_files', 'USAGE') "
            "FROM pg_roles WHERE rolname = %s",
            (role,),
        ).fetchone()
    names = ("superuser", "bypassrls", "createdb", "createrole", "signals", "stats", "files")
    return dict(zip(names, row, strict=True))


def _resets(role: str) -> list[bool]:
    with _superuser() as conn:
        signatures = [row[0] for row in conn.execute(STATEMENTS_RESET_FUNCTIONS_SQL)]
        assert signatures  # pg_stat_statements is created in the test database
        return [
            conn.execute(
                "SELECT has_function_privilege(%s, %s, 'EXECUTE')", (role, signature)
            ).fetchone()[0]
            for signature in signatures
        ]


@pytest.fixture
def owner_table() -> Iterator[str]:
    """A table the owner creates after the setup, as migrations do."""
    name = f"qt_embedded_{secrets.token_hex(3)}"
    _as(OWNER_ROLE, f"CREATE TABLE {name} (id serial PRIMARY KEY, v int)")
    _as(OWNER_ROLE, f"INSERT INTO {name} (v) VALUES (1), (2)")
    yield name
    _as(OWNER_ROLE, f"DROP TABLE {name}")


# ---- the reader: TARGET_DATABASE_URL ----------------------------------------------------------


def test_the_test_run_reads_the_target_as_the_reader():
    assert os.environ["TARGET_DATABASE_URL"] == running_layout().url(READER_ROLE)
    assert os.environ["TARGET_MAINTENANCE_DATABASE_URL"] == running_layout().url(MAINTENANCE_ROLE)
    assert os.environ["MIGRATIONS_APPLY_DATABASE_URL"] == running_layout().url(OWNER_ROLE)


def test_the_reader_reads_tables_created_later_and_every_roles_statistics(owner_table):
    assert _as(READER_ROLE, f"SELECT count(*) FROM {owner_table}") == [(2,)]
    assert _as(READER_ROLE, "SHOW default_transaction_read_only") == [("on",)]
    powers = _powers(READER_ROLE)
    assert powers["stats"] and powers["bypassrls"]
    # Another role's statement text, visible only with pg_read_all_stats.
    _as(APP_ROLE, "SELECT 'qt_reader_sees_this' AS marker")
    seen = _as(
        READER_ROLE,
        "SELECT count(*) FROM pg_stat_statements AS s JOIN pg_roles AS r ON r.oid = s.userid "
        "WHERE r.rolname = 'todo_app' AND s.query LIKE '%marker%'",
    )
    assert seen[0][0] >= 1


WRITES = [
    "INSERT INTO {table} (v) VALUES (3)",
    "UPDATE {table} SET v = 0",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "CREATE TABLE qt_reader_made (id int)",
    "CREATE TABLE public.qt_reader_made (id int)",
    "CREATE TEMPORARY TABLE qt_reader_temp (id int)",
    "CREATE SCHEMA qt_reader_schema",
    "CREATE INDEX ON {table} (v)",
    "ALTER TABLE {table} ADD COLUMN w int",
    "DROP TABLE {table}",
    "SELECT nextval('{table}_id_seq')",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_reader_cannot_write_even_outside_a_read_only_transaction(owner_table, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        # Turning the read-only default off is allowed; the privileges still refuse.
        _as(
            READER_ROLE,
            "SET default_transaction_read_only = off",
            statement.format(table=owner_table),
        )
    assert _as(OWNER_ROLE, f"SELECT count(*), sum(v) FROM {owner_table}") == [(2, 3)]


def test_the_reader_cannot_enter_the_consoles_schema_nor_become_another_role():
    for statement in (
        "SELECT count(*) FROM django.audit_auditevent",
        "SELECT count(*) FROM django.auth_user",
        f"SET ROLE {OWNER_ROLE}",
        "SET ROLE schemadesk",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(READER_ROLE, statement)


def test_the_reader_cannot_signal_reset_or_use_side_effect_functions():
    with psycopg.connect(running_layout().url(APP_ROLE)) as victim:
        pid = victim.info.backend_pid
        for statement in (
            f"SELECT pg_cancel_backend({pid})",
            f"SELECT pg_terminate_backend({pid})",
            "SELECT pg_stat_statements_reset()",
            "SELECT lo_from_bytea(0, '\\x01')",
            "SELECT pg_logical_emit_message(false, 'qt', 'x')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _as(READER_ROLE, "SET default_transaction_read_only = off", statement)
        assert victim.execute("SELECT 1").fetchone() == (1,)  # still alive
    powers = _powers(READER_ROLE)
    assert not any(powers[key] for key in ("superuser", "createdb", "createrole", "signals"))
    assert not any(_resets(READER_ROLE))


@pytest.fixture
def forced_table() -> Iterator[str]:
    """A table under FORCE ROW LEVEL SECURITY whose policy lets no session see a row."""
    name = f"qt_forced_{secrets.token_hex(3)}"
    _as(
        OWNER_ROLE,  # as a migration would
        f"CREATE TABLE {name} (id int, user_id text)",
        f"INSERT INTO {name} VALUES (1, 'u1'), (2, 'u2'), (3, 'u3')",
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY only_mine ON {name} USING "
        "(user_id = NULLIF(current_setting('app.current_user_id', true), ''))",
    )
    with _superuser() as conn:
        conn.execute("CREATE ROLE qt_reader_without_bypass LOGIN PASSWORD 'qt-pw'")
        for statement in schema_reader_sql(
            "qt_reader_without_bypass", TEST_DATABASE, owner=OWNER_ROLE, schema="public"
        ):
            conn.execute(statement)
    yield name
    with _superuser() as conn:
        conn.execute(f"DROP TABLE {name}")
        conn.execute("DROP OWNED BY qt_reader_without_bypass")
        conn.execute("DROP ROLE qt_reader_without_bypass")


def test_the_reader_sees_every_end_users_rows_even_under_forced_row_level_security(forced_table):
    """Support must see every end-user's rows: the reader bypasses RLS (BYPASSRLS). The same
    grants without it see nothing, and so does the owner once the table is FORCEd."""
    assert _as(READER_ROLE, f"SELECT count(*) FROM {forced_table}") == [(3,)]
    assert _as(OWNER_ROLE, f"SELECT count(*) FROM {forced_table}") == [(0,)]
    port = running_layout().port
    url = f"postgresql://qt_reader_without_bypass:qt-pw@127.0.0.1:{port}/{TEST_DATABASE}"
    with psycopg.connect(url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {forced_table}").fetchone() == (0,)


# ---- the read-only role of EXPLAIN ANALYZE: TARGET_READONLY_DATABASE_URL --------------------


def test_the_read_only_role_reads_tables_created_later_by_the_migrations(owner_table):
    assert _as(READONLY_ROLE, f"SELECT count(*) FROM {owner_table}") == [(2,)]
    assert _as(READONLY_ROLE, "SHOW default_transaction_read_only") == [("on",)]


def test_the_read_only_role_has_no_other_power():
    powers = _powers(READONLY_ROLE)
    assert not any(powers[key] for key in ("superuser", "signals", "stats", "files"))
    assert powers["bypassrls"]  # its plans count the rows the application's users see
    for statements in (
        ("SET default_transaction_read_only = off", "INSERT INTO tasks DEFAULT VALUES"),
        ("SELECT lo_from_bytea(0, '\\x01')",),
        ("SELECT pg_logical_emit_message(false, 'qt', 'x')",),
        (f"SET ROLE {OWNER_ROLE}",),
        (f"SET ROLE {READER_ROLE}",),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as(READONLY_ROLE, *statements)


def test_the_reader_may_switch_to_the_read_only_role_and_the_owner_may_not():
    """TARGET_READONLY_ROLE: the console's reader SETs ROLE to it; the owner is not involved."""
    assert _as(READER_ROLE, f"SET ROLE {READONLY_ROLE}", "SELECT current_user") == [
        (READONLY_ROLE,)
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(OWNER_ROLE, f"SET ROLE {READONLY_ROLE}")


# ---- the maintenance role: TARGET_MAINTENANCE_DATABASE_URL ----------------------------------


def test_the_maintenance_role_may_clone_signal_and_reset(owner_table):
    powers = _powers(MAINTENANCE_ROLE)
    assert powers["createdb"] and powers["bypassrls"]
    # No CREATEROLE: on PostgreSQL 15 it could grant itself the audit owner. Branches' roles
    # are made by functions (tests/core/test_branch_roles.py).
    assert not powers["createrole"]
    assert powers["signals"] and powers["stats"]
    assert not powers["superuser"] and not powers["files"]
    assert all(_resets(MAINTENANCE_ROLE))
    # pg_dump reads every table and sequence.
    assert _as(MAINTENANCE_ROLE, f"SELECT count(*) FROM {owner_table}") == [(2,)]
    assert _as(MAINTENANCE_ROLE, f"SELECT last_value FROM {owner_table}_id_seq") == [(2,)]
    with psycopg.connect(running_layout().url(APP_ROLE)) as victim:
        pid = victim.info.backend_pid
        assert _as(MAINTENANCE_ROLE, f"SELECT pg_cancel_backend({pid})") == [(True,)]


@pytest.mark.parametrize("statement", WRITES[:5])
def test_the_maintenance_role_cannot_write_the_applications_tables(owner_table, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(MAINTENANCE_ROLE, statement.format(table=owner_table))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(MAINTENANCE_ROLE, "SELECT count(*) FROM django.audit_auditevent")


def test_the_owner_gets_no_grant_for_the_console():
    """The console never acts as the owner: the reset grant the old layout gave it is gone."""
    assert not any(_resets(OWNER_ROLE))


def test_the_owner_may_not_create_roles():
    """The console applies migrations as the owner (MIGRATIONS_APPLY_DATABASE_URL): with
    CREATEROLE it could grant itself the audit owner on PostgreSQL 15."""
    assert not _powers(OWNER_ROLE)["createrole"]


def test_running_the_setup_again_takes_createrole_from_an_older_layout():
    """A layout made before the branch roles' functions gave the maintenance role and the
    owner CREATEROLE: preparing the database again (compose, `make demo`) takes it back."""
    with _superuser() as conn:
        for role in (MAINTENANCE_ROLE, OWNER_ROLE):
            conn.execute(sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(role)))
    embedded.prepare_database(os.environ["PG_SUPERUSER_URL"], TEST_DATABASE)
    assert not _powers(MAINTENANCE_ROLE)["createrole"]
    assert not _powers(OWNER_ROLE)["createrole"]


# ---- one source for every setup: compose runs the same builders ------------------------------


def test_compose_prepares_the_database_with_these_builders_and_no_sql_of_its_own():
    compose = (ROOT / "compose.yaml").read_text()
    assert "python -m core.embedded --admin-url-env AUDIT_ADMIN_DATABASE_URL" in compose
    assert "docker-entrypoint-initdb.d" not in compose
    assert not (ROOT / "deploy" / "initdb").exists()
    for variable in embedded.ROLE_VARIABLES.values():
        if variable != "APP_DATABASE_URL":  # the application's runtime role: not the console's
            assert f"{variable}:" in compose, variable


@pytest.fixture
def compose_like_database() -> Iterator[str]:
    name = f"qt_compose_{secrets.token_hex(3)}"
    yield name
    with _superuser("postgres") as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def test_the_command_prepares_a_database_from_the_urls_of_the_environment(
    compose_like_database, monkeypatch, capsys
):
    """`python -m core.embedded`, as compose's first step: the roles' passwords come from
    their URLs; a role whose URL is not given (here the application's) keeps its own."""
    layout = running_layout()
    for role, variable in embedded.ROLE_VARIABLES.items():
        if role == APP_ROLE:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, database_url(layout.url(role), compose_like_database))
    monkeypatch.setenv("QT_ADMIN_URL", os.environ["PG_SUPERUSER_URL"])
    assert embedded.main(["--admin-url-env", "QT_ADMIN_URL"]) == 0
    assert f"database {compose_like_database} are ready" in capsys.readouterr().out
    # Every role still logs in with the test run's passwords; the reader reads, and no more.
    assert _as(APP_ROLE, "SELECT 1", dbname=compose_like_database) == [(1,)]
    _as(OWNER_ROLE, "CREATE TABLE later (id int)", dbname=compose_like_database)
    assert _as(READER_ROLE, "SELECT count(*) FROM later", dbname=compose_like_database) == [(0,)]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as(READER_ROLE, "SELECT 1 FROM django.pg_class", dbname=compose_like_database)
    # Run again (every `docker compose up`): nothing fails, nothing changes.
    assert embedded.main(["--admin-url-env", "QT_ADMIN_URL"]) == 0


def test_the_command_says_what_is_missing(monkeypatch, capsys):
    monkeypatch.delenv("QT_NO_ADMIN", raising=False)
    assert embedded.main(["--admin-url-env", "QT_NO_ADMIN"]) == 2
    assert "set QT_NO_ADMIN and TARGET_DATABASE_URL" in capsys.readouterr().err


README_ROLES_BLOCKS = (
    "-- The console's roles in the application's database",
    "-- Local branches' roles: made by functions, never by a role the console logs in as",
)


def test_the_readmes_sql_for_the_consoles_roles_is_what_the_builders_make():
    """The README's setup by hand shows the builders' statements, for a database `app` owned
    by `app_owner`, word for word (a role that exists yet would be ALTERed: shown as CREATE)."""
    text = (ROOT / "README.md").read_text()
    shown = []
    for heading in README_ROLES_BLOCKS:
        start = text.index(heading)
        shown += text[start : text.index("```", start)].strip().splitlines()[1:]
    with _superuser() as conn:
        cur = conn.cursor()
        built = []
        for builder in (embedded.target_reader_sql, embedded.maintenance_role_sql):
            statements = builder(cur, "…", "app", owner="app_owner")
            built += [
                re.sub(r'^ALTER ROLE ("[^"]+" (NO)?LOGIN)', r"CREATE ROLE \1", text)
                for text in (statement.as_string(conn) for statement in statements)
            ]
    expected = [f"{statement};" for statement in built]

    def versionless(lines: list[str]) -> list[str]:  # the reset's arguments vary by version
        return [re.sub(r"pg_stat_statements_reset\([^)]*\)", "reset(…)", line) for line in lines]

    # Statements of several lines (the functions' bodies) are compared as text.
    wanted = "\n".join(versionless(expected))
    assert "\n".join(versionless(shown)) == wanted, wanted
