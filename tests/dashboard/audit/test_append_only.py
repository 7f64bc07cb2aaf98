"""Audit events cannot be changed or deleted: not through the ORM, not with raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from dashboard.audit.models import AppendOnlyError, AuditEvent


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


def test_queryset_update_and_delete_are_refused(event):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert stored(event) == ("SUP-1 original reason", "acc_alice")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_raw_update_and_delete_are_refused_by_the_database(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert stored(event) == ("SUP-1 original reason", "acc_alice")


def test_truncate_is_refused_without_the_maintenance_switch(event):
    with (
        pytest.raises(DatabaseError, match="TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The test's own insert left a deferred foreign-key check pending, and Postgres refuses
        # TRUNCATE before any trigger runs while one is pending: run the checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL schemadesk.audit_maintenance = off")
        cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


class _RollBack(Exception):
    pass


def test_truncate_works_only_with_the_maintenance_switch_on(event):
    # The counterpart of the refusal above: the switch is what makes the difference.
    with pytest.raises(_RollBack), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL schemadesk.audit_maintenance = on")
        cursor.execute("TRUNCATE audit_auditevent")
        assert not AuditEvent.objects.exists()
        raise _RollBack
    assert AuditEvent.objects.filter(pk=event.pk).exists()
