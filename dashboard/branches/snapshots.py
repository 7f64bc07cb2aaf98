"""Local snapshot branches: how the local provider goes back in time.

A local branch copies the database as it is now; it cannot start from the past. With
LOCAL_SNAPSHOT_CRON set, the worker takes a snapshot branch on that schedule, named after the
time it was taken (`snapshot-20250131t143000z`) and expiring after
LOCAL_SNAPSHOT_RETENTION_HOURS (the branch expiry job deletes it then). "As of <time>" compares
with the newest snapshot taken at or before that time, and the page says which one it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from dashboard.audit.services import record_system
from dashboard.branches.local_provider import LocalProvider
from dashboard.branches.provider import READY, BranchInfo

SNAPSHOT_PREFIX = "snapshot-"
SYSTEM_OPERATOR = "(system: local snapshots)"


def snapshot_name(at: datetime) -> str:
    """Return the branch name of a snapshot taken at `at`."""
    return SNAPSHOT_PREFIX + at.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")


def is_snapshot(branch: BranchInfo) -> bool:
    return branch.name.startswith(SNAPSHOT_PREFIX) and branch.created_at is not None


def ready_snapshots(branches: Iterable[BranchInfo]) -> list[BranchInfo]:
    """Return the complete snapshots among `branches`, newest first."""
    found = [
        (b.created_at, b)
        for b in branches
        if is_snapshot(b) and b.state == READY and b.created_at is not None
    ]
    return [b for _, b in sorted(found, key=lambda pair: pair[0], reverse=True)]


def snapshot_at_or_before(branches: Iterable[BranchInfo], when: datetime) -> BranchInfo | None:
    """Return the newest complete snapshot taken at or before `when`, or None."""
    return next(
        (b for b in ready_snapshots(branches) if b.created_at and b.created_at <= when), None
    )


def take_snapshot(
    provider: LocalProvider, retention_hours: int, now: datetime | None = None
) -> BranchInfo:
    """Clone the target into a new snapshot branch that expires after `retention_hours`."""
    moment = now or datetime.now(UTC)
    branch = provider.create_branch(
        snapshot_name(moment), expires_at=moment + timedelta(hours=max(1, retention_hours))
    )
    record_system(
        SYSTEM_OPERATOR,
        "branch.snapshot",
        detail={
            "branch": branch.name,
            "branch_id": branch.id,
            "provider": "local",
            "expires_at": branch.expires_at.isoformat() if branch.expires_at else None,
        },
    )
    return branch
