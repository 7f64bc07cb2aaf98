"""`connect`'s database work on the test cluster: the console's database admits its roles only;
the maintenance role makes branches' roles through the functions of core/branch_roles.py and has
no CREATEROLE, also after an older setup."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from core.branch_roles import ROLE_SCHEMA
from core.embedded import OWNER_ROLE, database_url
from dashboard.branches.local_roles import scram_verifier
from dashboard.onboarding.provision import (
    ConsolePlan,
    Outcome,
    Server,
    prepare_console,
    prepare_target,
)
from tests.dashboard.history.conftest import create_owned_database, drop_database_and_branches
from tests.dashboard.queries.conftest import as_superuser, superuser_url
from tests.pgplugin import running_layout


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """Fresh names for a console role, its database and a role without rights; dropped after."""
    tag = secrets.token_hex(3)
    made = {
        "role": f"desk_{tag}",
        "database": f"desk_db_{tag}",
        "stranger": f"stranger_{tag}",
        "password": secrets.token_urlsafe(12),
    }
    yield made
    as_superuser(f'DROP DATABASE IF EXISTS "{made["database"]}" WITH (FORCE)', dbname="postgres")
    for role in (made["role"], made["stranger"]):
        as_superuser(f'DROP ROLE IF EXISTS "{role}"', dbname="postgres")


def _plan(names: dict[str, str]) -> ConsolePlan:
    return ConsolePlan(
        role=names["role"],
        password=names["password"],
        database=names["database"],
        in_target=False,
        readonly_password="unused",
    )


def test_the_console_database_connect_creates_refuses_every_other_role(names):
    target = Server(os.environ["APP_DIRECT_URL"])  # the application's owner, as given to connect
    admin = Server(superuser_url())
    outcome = Outcome()

    prepare_console(admin, target, _plan(names), outcome)

    assert not outcome.pending, outcome.script()
    database = names["database"]
    assert f"database {database} created for the console; only {names['role']} and" in " ".join(
        outcome.done
    )
    # The console's role gets in.
    with psycopg.connect(target.with_login(names["role"], names["password"], database)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database,)
    # Any other login role of the server is refused: the console's reader, the application's
    # owner, and a role made now, as a branch's role would be.
    as_superuser(f"CREATE ROLE \"{names['stranger']}\" LOGIN PASSWORD '{names['password']}'")
    others = [
        Server(os.environ["TARGET_DATABASE_URL"]).with_database(database),
        target.with_database(database),
        target.with_login(names["stranger"], names["password"], database),
    ]
    for url in others:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(url).close()


def test_a_role_that_may_not_create_them_gets_the_revoke_in_the_script(names):
    # The privileged role may neither create roles nor databases: everything is printed, the
    # REVOKE with the CREATE DATABASE, for a superuser to run.
    as_superuser(f"CREATE ROLE \"{names['stranger']}\" LOGIN PASSWORD '{names['password']}'")
    target = Server(os.environ["APP_DIRECT_URL"])
    admin = Server(target.with_login(names["stranger"], names["password"], target.dbname))
    as_superuser(f'GRANT CONNECT ON DATABASE "{target.dbname}" TO "{names["stranger"]}"')
    outcome = Outcome()
    try:
        prepare_console(admin, target, _plan(names), outcome)
    finally:
        as_superuser(f'REVOKE CONNECT ON DATABASE "{target.dbname}" FROM "{names["stranger"]}"')

    assert outcome.blocking
    script = outcome.script()
    database, role, stranger = names["database"], names["role"], names["stranger"]
    create = script.index(f'CREATE DATABASE "{database}";')
    revoke = script.index(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC;')
    grant = script.index(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}", "{stranger}";')
    assert script.index(f'CREATE ROLE "{role}" LOGIN PASSWORD') < create < revoke < grant
    assert not as_superuser("SELECT 1 FROM pg_database WHERE datname = %s", [database])


# ---- the maintenance role: branches' roles by functions, never CREATEROLE -------------------


def _superuser(dbname: str) -> psycopg.Connection:
    return psycopg.connect(database_url(os.environ["PG_SUPERUSER_URL"], dbname), autocommit=True)


@pytest.fixture
def console() -> Iterator[tuple[ConsolePlan, Server]]:
    """A console of its own (roles qt_desk_…_reader, _readonly, _maintenance) and a target
    database owned by the layout's owner; all dropped afterwards."""
    plan = ConsolePlan(
        role=f"qt_desk_{secrets.token_hex(3)}",
        password="",
        database="",
        in_target=True,
        readonly_password=secrets.token_urlsafe(12),
        reader_password=secrets.token_urlsafe(12),
        maintenance_password=secrets.token_urlsafe(12),
    )
    database = create_owned_database("prov")
    yield plan, Server(running_layout().url(OWNER_ROLE, database))
    drop_database_and_branches(database)  # their grants went with it
    with _superuser("postgres") as conn:
        for role in (plan.reader_role, plan.readonly_role, plan.maintenance_role):
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _maintenance_state(plan: ConsolePlan, dbname: str) -> tuple[bool, bool]:
    """Return (has CREATEROLE, may call create_branch_role) of the plan's maintenance role."""
    with _superuser(dbname) as conn:
        row = conn.execute(
            "SELECT r.rolcreaterole, has_function_privilege(r.oid, p.oid, 'EXECUTE') "
            "FROM pg_roles AS r "
            "LEFT JOIN pg_proc AS p ON p.oid = to_regprocedure(%s) "
            "WHERE r.rolname = %s",
            (f"{ROLE_SCHEMA}.create_branch_role(text)", plan.maintenance_role),
        ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def _prepare(plan: ConsolePlan, target: Server) -> Outcome:
    outcome = Outcome()
    admin = Server(os.environ["PG_SUPERUSER_URL"])
    prepare_target(admin, target, plan, outcome, local_branches=True)
    assert not outcome.pending, outcome.script()
    return outcome


def test_the_maintenance_role_gets_the_functions_and_no_createrole(console):
    plan, target = console
    _prepare(plan, target)
    assert _maintenance_state(plan, target.dbname) == (False, True)
    # It makes a branch's role through them, logged in with the password connect wrote.
    role = f"{target.dbname}__br__qt-prov"
    url = target.with_login(plan.maintenance_role, plan.maintenance_password, target.dbname)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SELECT {ROLE_SCHEMA}.create_branch_role(%s)", (role,))
            conn.execute(
                f"SELECT {ROLE_SCHEMA}.set_branch_role_password(%s, %s)",
                (role, scram_verifier("pw")),
            )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"CREATE ROLE {target.dbname}__br__qt_direct")
    finally:
        with _superuser("postgres") as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_an_older_setup_is_brought_up_to_date_when_connect_runs_again(console):
    """Made before the functions (CREATEROLE, no functions), the role logs in already: connect
    does not make it again, yet takes CREATEROLE and makes the functions."""
    plan, target = console
    _prepare(plan, target)
    with _superuser(target.dbname) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(ROLE_SCHEMA)))
        conn.execute(
            sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(plan.maintenance_role))
        )
    assert _maintenance_state(plan, target.dbname) == (True, False)

    again = _prepare(plan, target)
    assert f"role {plan.maintenance_role} logs in (password from the .env file)" in again.done
    assert any("without CREATEROLE" in line for line in again.done), again.done
    assert _maintenance_state(plan, target.dbname) == (False, True)

    third = _prepare(plan, target)  # up to date: nothing to do
    assert not any("without CREATEROLE" in line for line in third.done), third.done


# ---- the printed script runs as printed, whatever the database's name ----------------------


def test_the_printed_script_runs_as_printed_for_a_database_name_needing_quotes():
    """A console database named with a space, quotes and `=`: psql runs the script as printed
    (each `\\connect` reaches that database), and connect then finds it all done."""
    from core.pgcluster import find_bindir

    tag = secrets.token_hex(3)
    stranger, role, password = f"stranger_{tag}", f"desk-{tag}", secrets.token_urlsafe(12)
    database = f'desk db "{tag}" it\'s = \\x'
    as_superuser(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
        .format(sql.Identifier(stranger), sql.Literal(password))
        .as_string(None)
    )
    target = Server(os.environ["APP_DIRECT_URL"])
    admin = Server(target.with_login(stranger, password, target.dbname))
    as_superuser(f'GRANT CONNECT ON DATABASE "{target.dbname}" TO "{stranger}"')
    plan = ConsolePlan(role, password, database, in_target=False, readonly_password="unused")
    try:
        outcome = Outcome()
        prepare_console(admin, target, plan, outcome)
        assert outcome.blocking
        psql = find_bindir() / "psql"
        ran = subprocess.run(
            [str(psql), superuser_url("postgres"), "-v", "ON_ERROR_STOP=1", "-q"],
            input=outcome.script(),
            text=True,
            capture_output=True,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr + outcome.script()
        again = Outcome()
        prepare_console(admin, target, plan, again)
        assert not again.pending, again.script()
        assert f"schema django in {database} (its own database) ready" in again.done
    finally:
        as_superuser(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            .format(sql.Identifier(database))
            .as_string(None),
            dbname="postgres",
        )
        as_superuser(f'REVOKE CONNECT ON DATABASE "{target.dbname}" FROM "{stranger}"')
        for name in (role, stranger):
            as_superuser(
                sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)).as_string(None),
                dbname="postgres",
            )
