"""The branch roles' functions (core/branch_roles.py), attacked as the maintenance role.

The maintenance role has no CREATEROLE: it makes, re-keys and drops local branches' login roles
through three SECURITY DEFINER functions of a role nobody logs in as. These tests try to make
the functions (or the role behind them) do anything else: touch the audit owner or another
existing role, inject through a name, hand a membership that leads somewhere, take a clear
password, be replaced, or be called by another of the console's roles.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from core.branch_roles import BRANCH_ROLE_COMMENT, ROLE_ADMIN, ROLE_SCHEMA
from core.embedded import (
    APP_ROLE,
    AUDIT_OWNER_ROLE,
    CONSOLE_ROLE,
    MAINTENANCE_ROLE,
    OWNER_ROLE,
    READER_ROLE,
    READONLY_ROLE,
)
from dashboard.branches.local_roles import scram_verifier
from tests.pgplugin import TEST_DATABASE, console_roles_on, running_layout

PREFIX = f"{TEST_DATABASE}__br__"


def _superuser() -> psycopg.Connection:
    url = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{TEST_DATABASE}"
    return psycopg.connect(url, autocommit=True)


def _call(function: str, *args: object, role: str = MAINTENANCE_ROLE) -> object:
    """Call one of the functions as `role` (autocommit) and return its answer."""
    placeholders = sql.SQL(", ").join(sql.Placeholder() for _ in args)
    query = sql.SQL("SELECT {}.{}({})").format(
        sql.Identifier(ROLE_SCHEMA), sql.Identifier(function), placeholders
    )
    with psycopg.connect(running_layout().url(role), autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def _role(name: str) -> dict[str, object] | None:
    """Return what the catalog says of role `name` (None when there is none)."""
    with _superuser() as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cur.execute(
            "SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
            "r.rolreplication, r.rolbypassrls, r.rolpassword, "
            "shobj_description(r.oid, 'pg_authid') AS mark, "
            "ARRAY(SELECT m.member::regrole::text FROM pg_auth_members AS m "
            "      WHERE m.roleid = r.oid ORDER BY 1) AS members "
            "FROM pg_authid AS r WHERE r.rolname = %s",
            (name,),
        ).fetchone()


def _maintenance_may_become(role: str) -> bool:
    with _superuser() as conn:
        row = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER')", (MAINTENANCE_ROLE, role)
        ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def branch_role() -> Iterator[str]:
    """A branch role's name (of a branch of the test database); dropped afterwards."""
    name = f"{PREFIX}qt-{secrets.token_hex(3)}"
    yield name
    with _superuser() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


# ---- what they are for ------------------------------------------------------------------------


def test_the_maintenance_role_makes_rekeys_and_drops_a_branch_role(branch_role):
    oid = _call("create_branch_role", branch_role)
    made = _role(branch_role)
    assert made is not None and made["rolcanlogin"] and made["mark"] == BRANCH_ROLE_COMMENT
    powers = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
    assert not any(made[power] for power in powers)
    # The maintenance role is a member (it creates the database owned by it); no other login.
    assert MAINTENANCE_ROLE in made["members"]  # type: ignore[operator]
    assert set(made["members"]) <= {MAINTENANCE_ROLE, ROLE_ADMIN}  # type: ignore[arg-type]
    assert _call("create_branch_role", branch_role) == oid  # again (a reset): the same role

    password = secrets.token_urlsafe(16)
    _call("set_branch_role_password", branch_role, scram_verifier(password))
    url = (
        running_layout()
        .url(MAINTENANCE_ROLE)
        .replace(
            f"{MAINTENANCE_ROLE}:{running_layout().passwords[MAINTENANCE_ROLE]}",
            f"{branch_role}:{password}",
        )
    )
    url = url.rsplit("/", 1)[0] + "/postgres"  # CONNECT to PUBLIC there, not in the target
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (branch_role,)
    stored = _role(branch_role)
    assert stored and str(stored["rolpassword"]).startswith("SCRAM-SHA-256$")

    assert _call("drop_branch_role", branch_role) is True
    assert _role(branch_role) is None
    assert _call("drop_branch_role", branch_role) is False


# ---- names that are not a branch's --------------------------------------------------------------


NOT_BRANCH_NAMES = [
    AUDIT_OWNER_ROLE,
    CONSOLE_ROLE,
    MAINTENANCE_ROLE,
    READER_ROLE,
    OWNER_ROLE,
    ROLE_ADMIN,
    "postgres",
    "pg_signal_backend",
    PREFIX,
    f"{PREFIX}Upper",
    f"{PREFIX}-dash-first",
    f"{PREFIX}ends-in-newline\n",
    f"{PREFIX}x; GRANT {AUDIT_OWNER_ROLE} TO {MAINTENANCE_ROLE}; --",
    f'{PREFIX}x" SUPERUSER CREATEROLE "',
    f"{PREFIX}{'a' * 41}",  # longer than a branch name may be
    f"{PREFIX}{'é' * 20}",
    f"other_database__br__qt-{secrets.token_hex(2)}",  # a branch of another database
]


@pytest.mark.parametrize("name", NOT_BRANCH_NAMES)
@pytest.mark.parametrize(
    ("function", "extra"),
    [
        ("create_branch_role", ()),
        ("set_branch_role_password", (scram_verifier("whatever"),)),
        ("drop_branch_role", ()),
    ],
)
def test_a_name_that_is_not_a_branchs_is_refused(name, function, extra):
    before = _role(name)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="is not that of a branch"):
        _call(function, name, *extra)
    assert _role(name) == before  # not made, changed nor dropped
    assert not _maintenance_may_become(AUDIT_OWNER_ROLE)


@pytest.fixture
def long_named_database() -> Iterator[str]:
    """A database whose name leaves less than 40 bytes for a branch's name, with the functions."""
    name = f"qt_long_{secrets.token_hex(2)}_" + "l" * 26  # 39 bytes: 45 with the marker
    with _superuser() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
    console_roles_on(name)
    yield name
    with _superuser() as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_name_postgres_would_cut_is_refused(long_named_database):
    """63 bytes is all a name keeps: a longer one would be cut, maybe into another role's."""
    prefix = f"{long_named_database}__br__"
    fits, too_long = prefix + "a" * (63 - len(prefix)), prefix + "a" * (64 - len(prefix))
    url = running_layout().url(MAINTENANCE_ROLE, long_named_database)
    call = sql.SQL("SELECT {}.create_branch_role(%s)").format(sql.Identifier(ROLE_SCHEMA))
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not that of a branch"):
            conn.execute(call, (too_long,))
        try:
            conn.execute(call, (fits,))
            assert _role(fits) is not None
        finally:
            drop = sql.SQL("SELECT {}.drop_branch_role(%s)").format(sql.Identifier(ROLE_SCHEMA))
            conn.execute(drop, (fits,))
    assert _role(too_long[:63]) is None


def test_no_name_is_refused_too():
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        _call("create_branch_role", None)


# ---- existing roles named like a branch's --------------------------------------------------


@pytest.fixture
def lookalike(branch_role) -> Iterator[str]:
    """A role named like a branch's, made by a superuser (not by the functions)."""
    with _superuser() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(branch_role)))
    yield branch_role


@pytest.mark.parametrize(
    "made_elsewhere",
    [
        "",  # no mark at all
        "ALTER ROLE {role} CREATEROLE",
        "ALTER ROLE {role} SUPERUSER",
        "ALTER ROLE {role} BYPASSRLS",
        "ALTER ROLE {role} CREATEDB",
        f"GRANT {AUDIT_OWNER_ROLE} TO {{role}}",  # joining it would lead to the audit owner
        f"GRANT {CONSOLE_ROLE} TO {{role}}",
    ],
)
def test_an_existing_role_the_functions_did_not_make_as_they_do_is_refused(
    lookalike, made_elsewhere
):
    with _superuser() as conn:
        if made_elsewhere:  # marked like a branch role, yet more than one
            mark = sql.SQL("COMMENT ON ROLE {} IS {}")
            conn.execute(mark.format(sql.Identifier(lookalike), sql.Literal(BRANCH_ROLE_COMMENT)))
            conn.execute(made_elsewhere.format(role=sql.Identifier(lookalike).as_string(conn)))
    before = _role(lookalike)
    for function, extra in (
        ("create_branch_role", ()),
        ("set_branch_role_password", (scram_verifier("known"),)),
        ("drop_branch_role", ()),
    ):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not made by the console"):
            _call(function, lookalike, *extra)
    assert _role(lookalike) == before
    assert not _maintenance_may_become(lookalike)
    assert not _maintenance_may_become(AUDIT_OWNER_ROLE)
    assert not _maintenance_may_become(CONSOLE_ROLE)


# ---- passwords: a verifier, nothing else ----------------------------------------------------


@pytest.mark.parametrize(
    "verifier",
    [
        "a clear password",
        "md5" + "0" * 32,
        scram_verifier("pw") + "' VALID UNTIL 'infinity",
        scram_verifier("pw") + "\n",
        "SCRAM-SHA-256$4096:salt$stored",
        "",
        None,
    ],
)
def test_only_a_scram_verifier_is_accepted(branch_role, verifier):
    _call("create_branch_role", branch_role)
    before = _role(branch_role)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="SCRAM-SHA-256 verifier"):
        _call("set_branch_role_password", branch_role, verifier)
    assert _role(branch_role) == before


def test_a_password_for_a_role_that_is_not_there_is_refused(branch_role):
    with pytest.raises(psycopg.errors.UndefinedObject):
        _call("set_branch_role_password", branch_role, scram_verifier("pw"))
    assert _role(branch_role) is None


# ---- nobody else, and no way around them ----------------------------------------------------


@pytest.mark.parametrize("role", [CONSOLE_ROLE, READER_ROLE, READONLY_ROLE, OWNER_ROLE, APP_ROLE])
def test_no_other_role_may_call_them(branch_role, role):
    for function, extra in (
        ("create_branch_role", ()),
        ("set_branch_role_password", (scram_verifier("pw"),)),
        ("drop_branch_role", ()),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _call(function, branch_role, *extra, role=role)
    assert _role(branch_role) is None


AROUND = [
    f"CREATE ROLE {PREFIX}qt_direct LOGIN",
    f"GRANT {AUDIT_OWNER_ROLE} TO CURRENT_USER",
    f"GRANT {ROLE_ADMIN} TO CURRENT_USER",
    f"SET ROLE {ROLE_ADMIN}",
    f"SET ROLE {AUDIT_OWNER_ROLE}",
    f"ALTER ROLE {MAINTENANCE_ROLE} CREATEROLE",
    f"COMMENT ON ROLE {AUDIT_OWNER_ROLE} IS '{BRANCH_ROLE_COMMENT}'",
    f"SELECT {ROLE_SCHEMA}.branch_role_oid('{AUDIT_OWNER_ROLE}')",
    f"CREATE FUNCTION {ROLE_SCHEMA}.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    f"CREATE OR REPLACE FUNCTION {ROLE_SCHEMA}.branch_role_oid(role_name text) RETURNS oid "
    "LANGUAGE sql AS 'SELECT 0::oid'",
    f"ALTER FUNCTION {ROLE_SCHEMA}.create_branch_role(text) SECURITY INVOKER",
    f"ALTER FUNCTION {ROLE_SCHEMA}.create_branch_role(text) RESET search_path",
    f"DROP FUNCTION {ROLE_SCHEMA}.create_branch_role(text)",
    f"DROP SCHEMA {ROLE_SCHEMA} CASCADE",
]


@pytest.mark.parametrize("statement", AROUND)
def test_the_maintenance_role_cannot_do_it_itself_nor_change_the_functions(statement):
    with (
        psycopg.connect(running_layout().url(MAINTENANCE_ROLE), autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)  # type: ignore[call-overload]
    assert not _maintenance_may_become(AUDIT_OWNER_ROLE)


def test_the_maintenance_role_cannot_pass_the_functions_on():
    function = f"{ROLE_SCHEMA}.create_branch_role(text)"
    with psycopg.connect(running_layout().url(MAINTENANCE_ROLE), autocommit=True) as conn:
        # Without the grant option Postgres only warns ("no privileges were granted").
        conn.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {CONSOLE_ROLE}")
    with _superuser() as conn:
        row = conn.execute(
            "SELECT has_function_privilege(%s, %s, 'EXECUTE')", (CONSOLE_ROLE, function)
        ).fetchone()
    assert row == (False,)


def test_the_functions_run_as_a_role_no_login_can_become():
    with _superuser() as conn:
        admin = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
            "rolreplication, "
            "EXISTS (SELECT 1 FROM pg_auth_members AS m WHERE m.roleid = r.oid "
            "        OR (m.member = r.oid AND shobj_description(m.roleid, 'pg_authid') "
            "            IS DISTINCT FROM %s)) "  # 16+: it is the admin of the roles it made
            "FROM pg_roles AS r WHERE rolname = %s",
            (BRANCH_ROLE_COMMENT, ROLE_ADMIN),
        ).fetchone()
        functions = conn.execute(
            "SELECT p.proname, p.proowner::regrole::text, p.prosecdef, p.proconfig, "
            "ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "                           ELSE a.grantee::regrole::text END "
            "      FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a "
            "      WHERE a.privilege_type = 'EXECUTE' ORDER BY 1) "
            "FROM pg_proc AS p WHERE p.pronamespace = %s::regnamespace ORDER BY 1",
            (ROLE_SCHEMA,),
        ).fetchall()
        schema = conn.execute(
            "SELECT n.nspowner::regrole::text, "
            "ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "                           ELSE a.grantee::regrole::text END || ':' "
            "                      || a.privilege_type "
            "      FROM aclexplode(n.nspacl) AS a ORDER BY 1) "
            "FROM pg_namespace AS n WHERE n.nspname = %s",
            (ROLE_SCHEMA,),
        ).fetchone()
    # Cannot log in, creates roles and nothing else, belongs to no role and has no member.
    assert admin == (False, False, True, False, False, False, False)
    called = {"create_branch_role", "set_branch_role_password", "drop_branch_role"}
    assert {name for name, *_ in functions} == called | {"branch_role_oid"}
    for name, owner, definer, config, executors in functions:
        assert owner == ROLE_ADMIN
        assert config == ["search_path=pg_catalog, pg_temp"]
        assert definer == (name in called)
        callers = {ROLE_ADMIN, MAINTENANCE_ROLE} if name in called else {ROLE_ADMIN}
        assert executors == sorted(callers)
    # Only its owner may create in the schema; only the maintenance role may use it besides.
    rights = [f"{ROLE_ADMIN}:CREATE", f"{ROLE_ADMIN}:USAGE", f"{MAINTENANCE_ROLE}:USAGE"]
    assert schema == (ROLE_ADMIN, sorted(rights))
