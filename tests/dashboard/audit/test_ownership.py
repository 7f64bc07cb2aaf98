"""Handing the audit table to its owner needs the lent membership; without it, a sentence."""

from __future__ import annotations

import os
import re

import pglast
import psycopg
import pytest
from django.db import connection
from psycopg import sql

from dashboard.audit.ownership import (
    AuditOwnerNotReady,
    acting_as_owner,
    audit_protection,
    hand_audit_table_to_owner,
)


@pytest.mark.django_db
def test_handing_over_without_the_membership_says_what_to_run(settings):
    with pytest.raises(AuditOwnerNotReady) as refusal:
        hand_audit_table_to_owner(connection, settings.AUDIT_OWNER_ROLE)
    message = str(refusal.value)
    assert f"GRANT {settings.AUDIT_OWNER_ROLE} TO schemadesk;" in message
    assert "python -m core.audit_owner" in message


@pytest.mark.django_db
def test_handing_over_to_a_missing_role_says_how_to_create_it():
    with pytest.raises(AuditOwnerNotReady, match="CREATE ROLE nobody_here NOLOGIN"):
        hand_audit_table_to_owner(connection, "nobody_here")


@pytest.mark.django_db
def test_the_statements_a_refusal_gives_quote_an_odd_role_name():
    odd = 'audit "owner" of Shop'
    with pytest.raises(AuditOwnerNotReady) as refusal:
        hand_audit_table_to_owner(connection, odd)
    message = str(refusal.value)
    quoted = '"audit ""owner"" of Shop"'
    statements = re.findall(r"(?:CREATE|ALTER|GRANT|REVOKE) [^;]*;", message)
    assert f"CREATE ROLE {quoted} NOLOGIN;" in statements
    assert f"GRANT {quoted} TO schemadesk;" in statements
    for statement in statements:
        pglast.parse_sql(statement)  # each is SQL an administrator can paste


@pytest.mark.django_db
def test_the_test_database_is_protected_as_production_should_be(settings):
    protection = audit_protection(connection)
    assert protection.holds, protection.problems
    assert (protection.role, protection.owner) == ("schemadesk", settings.AUDIT_OWNER_ROLE)


@pytest.mark.django_db
def test_acting_as_the_owner_needs_the_membership_lent(settings):
    with (
        pytest.raises(AuditOwnerNotReady, match=r"python -m core\.audit_owner"),
        acting_as_owner(connection, settings.AUDIT_OWNER_ROLE),
    ):
        pass  # pragma: no cover - refused before


@pytest.mark.django_db(transaction=True)
def test_acting_as_the_owner_runs_as_it_and_resets_after(settings):
    from core.audit_owner import audit_owner_lent
    from core.embedded import CONSOLE_ROLE
    from tests.conftest import superuser_database_url

    with audit_owner_lent(superuser_database_url(), CONSOLE_ROLE):
        with acting_as_owner(connection, settings.AUDIT_OWNER_ROLE) as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == settings.AUDIT_OWNER_ROLE
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == CONSOLE_ROLE
    connection.close()  # the session held the lent role's rights for a while: start afresh


@pytest.mark.django_db
def test_the_keyset_indexes_of_the_audit_page_exist():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent'"
        )
        definitions = dict(cursor.fetchall())
    for name, columns in {
        "audit_event_at_id": "(at, id)",
        "audit_event_subject_at_id": "(subject_user, at, id)",
        "audit_event_action_at_id": "(action, at, id)",
        "audit_event_operator_at_id": "(operator_id, at, id)",
    }.items():
        assert definitions[name].endswith(columns), definitions.get(name)


# Every role the console logs in as, by the variable its URL is in.
CONSOLE_URLS = (
    "DATABASE_URL",
    "TARGET_DATABASE_URL",
    "TARGET_READONLY_DATABASE_URL",
    "TARGET_MAINTENANCE_DATABASE_URL",
    "TARGET_WRITE_DATABASE_URL",
    "MIGRATIONS_APPLY_DATABASE_URL",
)


@pytest.mark.django_db
@pytest.mark.parametrize("variable", CONSOLE_URLS)
def test_no_role_the_console_logs_in_as_can_make_itself_the_audit_owner(settings, variable):
    """The trail "cannot be erased by the console itself" only if none of the console's roles
    can become the audit owner (then disable its trigger and delete). On PostgreSQL 15 and
    older a role with CREATEROLE could: none of them has it (core/branch_roles.py makes the
    local branches' roles instead)."""
    owner = settings.AUDIT_OWNER_ROLE
    with psycopg.connect(os.environ[variable], autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")  # a role's default, not a fence
        creates_roles = conn.execute(
            "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert creates_roles == (False,), f"the role of {variable} may create and grant roles"
        try:
            conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(owner)))
        except psycopg.errors.InsufficientPrivilege:
            return
        conn.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(sql.Identifier(owner)))
    pytest.fail(f"the role of {variable} made itself a member of {owner}")
