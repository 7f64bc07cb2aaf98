"""Local snapshot branches: the local provider's way back in time, taken on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.audit.models import AuditEvent
from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.snapshots import is_snapshot, snapshot_name, take_snapshot
from dashboard.branches.tasks import take_local_snapshot


def test_a_snapshot_is_named_after_its_time_in_a_valid_branch_name():
    name = snapshot_name(datetime(2025, 1, 31, 14, 30, 5, tzinfo=UTC))
    assert name == "snapshot-20250131t143005z"


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_task_takes_a_snapshot_that_expires_after_the_retention(
    settings, on_tm_database
):
    settings.LOCAL_SNAPSHOT_RETENTION_HOURS = 6
    provider = LocalProvider.from_settings()
    before = {b.id for b in provider.list_branches()}
    take_local_snapshot(timestamp=0)
    made = [b for b in provider.list_branches() if b.id not in before]
    try:
        [snapshot] = made
        assert is_snapshot(snapshot) and snapshot.state == "ready"
        assert snapshot.expires_at is not None and snapshot.created_at is not None
        assert snapshot.expires_at - snapshot.created_at == pytest.approx(
            timedelta(hours=6), abs=timedelta(minutes=1)
        )
        event = AuditEvent.objects.get(action="branch.snapshot")
        assert event.detail["branch"] == snapshot.name
    finally:
        for branch in made:
            provider.delete_branch(branch.id)


def test_the_task_does_nothing_for_neon(settings, monkeypatch):
    settings.BRANCH_PROVIDER = "neon"
    monkeypatch.setattr(
        "dashboard.branches.snapshots.take_snapshot",
        lambda *a, **k: pytest.fail("no snapshot on Neon"),
    )
    take_local_snapshot(timestamp=0)
    assert take_snapshot  # the real one is untouched
