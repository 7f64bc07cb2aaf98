"""Expired local branches are deleted, audited; unexpired ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.audit.models import AuditEvent
from dashboard.branches.expiry import SYSTEM_OPERATOR, expired_branches_deleted
from tests.dashboard.branches.test_local_provider import provider, source_database  # noqa: F401

pytestmark = pytest.mark.django_db


def test_only_expired_branches_are_deleted_and_each_is_audited(provider):  # noqa: F811
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    provider.create_branch("short-lived", schema_only=True, expires_at=soon)
    provider.create_branch("long-lived", schema_only=True, expires_at=soon + timedelta(days=2))
    provider.create_branch("forever", schema_only=True)

    assert expired_branches_deleted(provider, now=soon - timedelta(minutes=1)) == []
    assert expired_branches_deleted(provider, now=soon + timedelta(minutes=1)) == ["short-lived"]

    assert sorted(b.name for b in provider.list_branches()) == ["forever", "long-lived"]
    event = AuditEvent.objects.get(action="branch.expire")
    assert event.operator_name == SYSTEM_OPERATOR
    assert event.detail["branch"] == "short-lived"
