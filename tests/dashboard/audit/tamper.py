"""Helpers for tests that tamper with the audit trail the way only a database superuser can."""

from __future__ import annotations

from typing import Any

import psycopg

from dashboard.audit.models import AuditEvent
from tests.conftest import superuser_database_url


def as_superuser(statement: str, params: Any = None) -> None:
    """Run `statement` as the superuser with triggers off (replica mode), committed at once."""
    with psycopg.connect(superuser_database_url(), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET search_path = django")
        conn.execute(statement, params)


def add_events(count: int, action: str = "user.view") -> list[int]:
    """Append `count` events through the model (chained as the console chains them)."""
    return [
        AuditEvent.objects.create(
            operator_name="sue-support",
            action=action,
            subject_user=f"acc_{n}",
            reason=f"SUP-{n}",
            client_address="198.51.100.7",
            detail={"n": n},
        ).pk
        for n in range(count)
    ]
