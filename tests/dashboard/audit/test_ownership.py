"""Handing the audit table to its owner needs the lent membership; without it, a sentence."""

from __future__ import annotations

import pytest
from django.db import connection

from dashboard.audit.ownership import (
    AuditOwnerNotReady,
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
def test_the_test_database_is_protected_as_production_should_be(settings):
    protection = audit_protection(connection)
    assert protection.holds, protection.problems
    assert (protection.role, protection.owner) == ("schemadesk", settings.AUDIT_OWNER_ROLE)
