"""The target database's checks (extensions, grants, branches), run against the test cluster."""

from __future__ import annotations

import dataclasses
import os

import pytest

from dashboard.onboarding import target_checks
from dashboard.onboarding.checklist import BAD, OK, WARN
from tests.dashboard.queries.conftest import as_superuser
from tests.unavailable import unavailable

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_project")]


@pytest.fixture
def scratch_database(settings, monkeypatch):
    """Point the target at a new, empty database owned by the target role."""
    from tests.dashboard.history.conftest import (
        create_owned_database,
        drop_database_and_branches,
        owner_url,
    )

    name = create_owned_database("onboard")
    monkeypatch.setenv("ONBOARD_TARGET_URL", owner_url(name))
    settings.TARGET = {**settings.TARGET, "URL_VAR": "ONBOARD_TARGET_URL"}
    yield name
    drop_database_and_branches(name)


def test_a_missing_reset_grant_gives_the_exact_statement_that_fixes_it():
    revoke = (
        "REVOKE EXECUTE ON FUNCTION pg_stat_statements_reset(oid, oid, bigint) "
        "FROM schemadesk_maintenance"
    )
    as_superuser(revoke)
    try:
        broken = target_checks.statements_reset_granted(target_checks.target_facts())
        assert broken.status == BAD
        assert broken.fix.startswith("as a superuser: GRANT EXECUTE ON FUNCTION ")
        as_superuser(broken.fix.removeprefix("as a superuser: "))  # the fix, run as printed
        assert target_checks.statements_reset_granted(target_checks.target_facts()).status == OK
    finally:
        as_superuser(revoke.replace("REVOKE", "GRANT").replace("FROM", "TO"))


def test_without_pg_stat_statements_the_checks_say_how_to_create_it(scratch_database):
    from dashboard import target

    target.reset_engine()
    try:
        facts = target_checks.target_facts()  # a database where the extension was never created
    finally:
        target.reset_engine()
    assert target_checks.statements_created(facts).status == BAD
    assert target_checks.statements_created(facts).fix == "CREATE EXTENSION pg_stat_statements;"
    assert target_checks.statements_loaded(facts).status == WARN
    assert target_checks.statements_reset_granted(facts).status == WARN


def test_a_server_that_did_not_preload_the_library_says_how():
    from dashboard.queries.extension import StatementsStatus

    facts = dataclasses.replace(
        target_checks.target_facts(),
        statements=StatementsStatus(
            False, "not_preloaded", "not loaded", ["ALTER SYSTEM SET x;"], schema="public"
        ),
    )
    loaded = target_checks.statements_loaded(facts)
    assert loaded.status == BAD and loaded.fix == "ALTER SYSTEM SET x;"
    assert target_checks.statements_created(facts).status == OK


def _target_facts() -> target_checks.TargetFacts:
    """Return the target's facts read on a fresh engine (the target may have just moved)."""
    from dashboard import target

    target.reset_engine()
    try:
        return target_checks.target_facts()
    finally:
        target.reset_engine()


def test_hypopg_not_created_in_the_target_says_how_and_the_fix_works(scratch_database):
    if not as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
        unavailable(
            "hypopg is not installed on this PostgreSQL server "
            "(Debian/Ubuntu: apt-get install postgresql-15-hypopg)."
        )
    check = target_checks.hypopg_ready(_target_facts())  # a database where it was never created
    assert check.status == WARN
    assert check.found.startswith(
        f"installed on the server, not created in database {scratch_database}: "
    )
    prefix = f"as a superuser, in database {scratch_database}: "
    assert check.fix == prefix + "CREATE EXTENSION hypopg;"

    # The fix, run as it says, makes the check pass.
    as_superuser(check.fix.removeprefix(prefix), dbname=scratch_database)
    ready = target_checks.hypopg_ready(_target_facts())
    assert (ready.status, ready.found) == (OK, "in schema public")


def test_hypopg_missing_from_the_server_says_what_to_install():
    facts = dataclasses.replace(
        target_checks.target_facts(), hypopg_schema=None, hypopg_available=False
    )
    check = target_checks.hypopg_ready(facts)
    assert (check.status, check.found) == (WARN, "not installed on the server (optional)")
    assert "apt-get install postgresql-NN-hypopg" in check.fix
    assert check.fix.endswith("CREATE EXTENSION hypopg;")


def test_branches_need_createdb_locally_and_credentials_on_neon(settings, monkeypatch):
    found = target_checks.target_facts()
    assert target_checks.branches_possible(found).status == OK
    facts = dataclasses.replace(
        found, maintenance=dataclasses.replace(found.maintenance, createdb=False)
    )
    local = target_checks.branches_possible(facts)
    fix = 'ALTER ROLE "schemadesk_maintenance" CREATEDB NOCREATEROLE;'
    assert local.status == BAD and fix in local.fix
    settings.BRANCH_PROVIDER = "neon"
    settings.NEON_PROJECT_ID = ""
    monkeypatch.delenv("NEON_API_KEY", raising=False)
    neon = target_checks.branches_possible(facts)
    assert neon.status == BAD and "NEON_API_KEY and NEON_PROJECT_ID" in neon.found
    settings.NEON_PROJECT_ID = "p-1"
    monkeypatch.setenv("NEON_API_KEY", "k")
    assert target_checks.branches_possible(facts).status == OK


# ---- no login may create roles (on PostgreSQL 15 they could grant the audit owner) ------------


@pytest.mark.parametrize(
    ("role", "variable"),
    [
        ("schemadesk", "DATABASE_URL"),
        ("schemadesk_reader", "TARGET_DATABASE_URL"),
        ("schemadesk_readonly", "TARGET_READONLY_DATABASE_URL"),
        ("schemadesk_maintenance", "TARGET_MAINTENANCE_DATABASE_URL"),
        ("todo_app", "TARGET_WRITE_DATABASE_URL"),
        ("todo_owner", "MIGRATIONS_APPLY_DATABASE_URL"),
    ],
)
def test_a_login_with_createrole_is_flagged_with_the_fix(settings, monkeypatch, role, variable):
    from dashboard.target import migrations_apply_url

    settings.TARGET = {**settings.TARGET, "APPLY_URL_VAR": "MIGRATIONS_APPLY_DATABASE_URL"}
    monkeypatch.setenv("QT_WRITE_URL", os.environ["TARGET_WRITE_DATABASE_URL"])
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": "QT_WRITE_URL"}
    assert "todo_owner" in (migrations_apply_url() or "")
    assert target_checks.no_login_creates_roles(target_checks.target_facts()).status == OK
    as_superuser(f"ALTER ROLE {role} CREATEROLE")
    try:
        flagged = target_checks.no_login_creates_roles(target_checks.target_facts())
        assert flagged.status == BAD
        assert f"{role} ({variable}) has CREATEROLE" in flagged.found
        assert "schemadesk_audit included" in flagged.found
        fix = f"ALTER ROLE {role} NOCREATEROLE;"
        assert fix in flagged.fix
        as_superuser(fix)  # the fix, run as printed
        assert target_checks.no_login_creates_roles(target_checks.target_facts()).status == OK
    finally:
        as_superuser(f"ALTER ROLE {role} NOCREATEROLE")


def test_a_login_that_may_act_as_a_role_with_createrole_is_flagged():
    as_superuser("CREATE ROLE qt_creator NOLOGIN CREATEROLE")
    as_superuser("GRANT qt_creator TO schemadesk_reader")
    try:
        flagged = target_checks.no_login_creates_roles(target_checks.target_facts())
        assert flagged.status == BAD
        assert "schemadesk_reader (TARGET_DATABASE_URL) may act as qt_creator" in flagged.found
        assert "REVOKE qt_creator FROM schemadesk_reader;" in flagged.fix
    finally:
        as_superuser("DROP ROLE qt_creator")
    assert target_checks.no_login_creates_roles(target_checks.target_facts()).status == OK


@pytest.mark.parametrize(
    ("breach", "undo", "found"),
    [
        (
            "GRANT schemadesk_role_admin TO todo_owner",
            "REVOKE schemadesk_role_admin FROM todo_owner",
            "schemadesk_role_admin, which create_branch_role runs as, is a member of a role or "
            "has a member",
        ),
        (
            "GRANT schemadesk_audit TO schemadesk_role_admin",
            "REVOKE schemadesk_audit FROM schemadesk_role_admin",
            "is a member of a role or has a member",
        ),
        (
            "ALTER ROLE schemadesk_role_admin LOGIN",
            "ALTER ROLE schemadesk_role_admin NOLOGIN",
            "schemadesk_role_admin, which drop_branch_role runs as, can log in",
        ),
        (
            "GRANT EXECUTE ON FUNCTION schemadesk_roles.create_branch_role(text) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION schemadesk_roles.create_branch_role(text) FROM PUBLIC",
            "PUBLIC may execute create_branch_role too",
        ),
        (
            "ALTER FUNCTION schemadesk_roles.drop_branch_role(text) SECURITY INVOKER",
            "ALTER FUNCTION schemadesk_roles.drop_branch_role(text) SECURITY DEFINER",
            "drop_branch_role does not run as a role with CREATEROLE",
        ),
    ],
)
def test_branch_role_functions_that_could_be_turned_around_are_flagged(breach, undo, found):
    assert target_checks.branches_possible(target_checks.target_facts()).status == OK
    as_superuser(breach)
    try:
        flagged = target_checks.branches_possible(target_checks.target_facts())
    finally:
        as_superuser(undo)
    assert flagged.status == BAD and found in flagged.found, flagged
    assert target_checks.branches_possible(target_checks.target_facts()).status == OK


def test_branches_without_the_functions_say_what_to_run():
    revoke = (
        "REVOKE EXECUTE ON FUNCTION schemadesk_roles.set_branch_role_password(text, text) "
        "FROM schemadesk_maintenance"
    )
    as_superuser(revoke)
    try:
        flagged = target_checks.branches_possible(target_checks.target_facts())
    finally:
        as_superuser(revoke.replace("REVOKE", "GRANT").replace("FROM", "TO"))
    assert flagged.status == BAD
    assert "may not call the functions of schema schemadesk_roles" in flagged.found
    assert "README's setup by hand" in flagged.fix


def test_a_console_reading_as_the_owner_is_told_to_use_a_reader(settings):
    from dashboard import target

    assert target_checks.reader_harmless(target_checks.target_facts()).status == OK
    # The layout before the reader: every page read as the owner of the tables.
    settings.TARGET = {**settings.TARGET, "URL_VAR": "APP_DIRECT_URL"}
    target.reset_engine()
    try:
        warned = target_checks.reader_harmless(target_checks.target_facts())
    finally:
        target.reset_engine()
    assert warned.status == WARN
    assert "todo_owner (TARGET_DATABASE_URL) may end or cancel other sessions" in warned.found
    assert "owns or may write tables of schema public" in warned.found
    assert "set TARGET_DATABASE_URL" in warned.fix


def test_a_maintenance_role_without_the_rights_is_told_what_to_grant(settings, monkeypatch):
    """TARGET_MAINTENANCE_DATABASE_URL naming the application's runtime role: it may neither
    signal, reset, nor clone; and a role that does not exist is said so."""
    settings.TARGET = {**settings.TARGET, "MAINTENANCE_URL_VAR": "APP_DATABASE_URL"}
    facts = target_checks.target_facts()
    signals = target_checks.backends_signalable(facts)
    assert signals.status == WARN
    grant = 'GRANT pg_signal_backend, pg_read_all_stats TO "todo_app";'
    assert signals.fix == f"as a superuser: {grant}"
    as_superuser(signals.fix.removeprefix("as a superuser: "))  # the fix, run as printed
    try:
        assert target_checks.backends_signalable(target_checks.target_facts()).status == OK
    finally:
        as_superuser("REVOKE pg_signal_backend, pg_read_all_stats FROM todo_app")
    assert target_checks.statements_reset_granted(facts).status == BAD
    assert target_checks.branches_possible(facts).status == BAD
    monkeypatch.setenv("QT_GONE_URL", "postgresql://qt_gone:pw@127.0.0.1:5432/x")
    settings.TARGET = {**settings.TARGET, "MAINTENANCE_URL_VAR": "QT_GONE_URL"}
    gone = target_checks.target_facts()
    assert target_checks.backends_signalable(gone).status == BAD
    assert "there is no role qt_gone" in target_checks.backends_signalable(gone).found
    assert target_checks.statements_reset_granted(gone).status == WARN


def test_the_read_only_role_is_checked_for_harm(settings):
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": ""}
    assert target_checks.read_only_role().status == WARN
    # The target's own role, as "read-only" role: it owns the tables, so it is refused.
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "APP_DIRECT_URL"}
    harmful = target_checks.read_only_role()
    assert harmful.status == BAD and "owns or may write tables" in harmful.found
