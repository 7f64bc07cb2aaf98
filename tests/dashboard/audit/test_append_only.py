"""Audit events cannot be changed or deleted: not through the ORM, not with raw SQL, and the
console's database role cannot unprotect, drop or take over the table either."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from dashboard.audit.models import AppendOnlyError, AuditEvent
from tests.conftest import superuser_database_url


@pytest.fixture
def event(support_user) -> AuditEvent:
    return AuditEvent.objects.create(
        operator=support_user,
        operator_name=support_user.username,
        action="user.view",
        subject_user="acc_alice",
        tables=["ust_orders"],
        reason="SUP-1 original reason",
    )


def stored(event: AuditEvent) -> tuple:
    return AuditEvent.objects.filter(pk=event.pk).values_list("reason", "subject_user").get()


def test_saving_an_existing_event_is_refused(event):
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert stored(event) == ("SUP-1 original reason", "acc_alice")


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_delete_and_bulk_create_are_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(operator_name="x", action="forged")])
    assert stored(event) == ("SUP-1 original reason", "acc_alice")


# What the console's own role (Django's connection) tries, and must not be allowed to do.
ATTEMPTS = {
    "update": "UPDATE audit_auditevent SET reason = 'rewritten'",
    "delete": "DELETE FROM audit_auditevent",
    "truncate": "TRUNCATE audit_auditevent",
    "disable trigger": "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "drop table": "DROP TABLE audit_auditevent",
    "drop schema": "DROP SCHEMA django CASCADE",
    "rename": "ALTER TABLE audit_auditevent RENAME TO audit_old",
    "replace trigger function": (
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END; $$"
    ),
    "take ownership": "ALTER TABLE audit_auditevent OWNER TO CURRENT_USER",
    "act as the owner": f"SET ROLE {settings.AUDIT_OWNER_ROLE}",
    "own trigger": (
        "CREATE TRIGGER audit_forge BEFORE INSERT ON audit_auditevent "
        "FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"
    ),
    # The old escape hatch: a session setting that let TRUNCATE through. Anyone may set a
    # custom setting, so what must fail is the TRUNCATE after it.
    "old maintenance switch": (
        "SET LOCAL schemadesk.audit_maintenance = on; TRUNCATE audit_auditevent"
    ),
}


@pytest.mark.parametrize("statement", ATTEMPTS.values(), ids=ATTEMPTS.keys())
def test_the_console_role_cannot_change_or_unprotect_the_trail(event, statement):
    with (
        pytest.raises(DatabaseError, match=r"permission denied|must be owner|must be able to"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The fixture's insert is still in this transaction; nothing deferred may be pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(statement)
    assert stored(event) == ("SUP-1 original reason", "acc_alice")


def test_the_console_role_may_insert_and_select_only(db):
    with connection.cursor() as cursor:
        # Postgres only warns ("no privileges were granted"): what counts is what it holds after.
        cursor.execute("GRANT ALL ON audit_auditevent TO CURRENT_USER")
        cursor.execute(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = 'audit_auditevent' AND grantee = current_user "
            "ORDER BY privilege_type"
        )
        privileges = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT pg_get_userbyid(c.relowner), r.rolcanlogin, "
            "pg_has_role(current_user, c.relowner, 'MEMBER'), "
            "pg_get_userbyid(n.nspowner) "
            "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "JOIN pg_roles AS r ON r.oid = c.relowner "
            "WHERE c.oid = 'audit_auditevent'::regclass"
        )
        owner, owner_logs_in, console_is_member, schema_owner = cursor.fetchone()
    assert privileges == ["INSERT", "SELECT"]
    assert owner == settings.AUDIT_OWNER_ROLE and not owner_logs_in
    assert not console_is_member
    assert schema_owner == settings.AUDIT_OWNER_ROLE


@pytest.mark.django_db(transaction=True)
def test_even_a_superuser_meets_the_trigger(support_user):
    event = AuditEvent.objects.create(operator_name="sue", action="user.view", reason="SUP-2")
    with psycopg.connect(superuser_database_url(), autocommit=True) as conn:
        for statement in (
            "UPDATE django.audit_auditevent SET reason = 'rewritten'",
            "DELETE FROM django.audit_auditevent",
            "TRUNCATE django.audit_auditevent",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
    assert AuditEvent.objects.filter(pk=event.pk, reason="SUP-2").exists()
