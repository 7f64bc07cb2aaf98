"""Branch jobs: create (and wait until ready), delete, reset. Run by the procrastinate worker.

Each job reads what was asked from its BranchRequest, talks to the configured provider and
writes progress lines to its JobRun. Failures end the run with the provider's sentence.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime

from django.conf import settings
from procrastinate.contrib.django import app

from dashboard.branches.models import BranchRequest
from dashboard.branches.services import opened_provider
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import tracked

# How progress lines name the provider.
PROVIDER_PLACES = {"neon": "Neon", "local": "the database server (local clone)"}


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _deadline_seconds() -> float:
    return float(getattr(settings, "BRANCH_READY_DEADLINE_SECONDS", 300))


@tracked
def _create(run: JobRun, branch_request_id: int) -> dict:
    asked = BranchRequest.objects.get(pk=branch_request_id)
    started = time.monotonic()
    with opened_provider(interactive=False) as provider:
        where = PROVIDER_PLACES.get(provider.name, provider.name)
        run.note(f"Asking {where} for branch {asked.branch_name}")
        branch = provider.create_branch(
            asked.branch_name,
            parent_id=asked.parent_id or None,
            point_in_time=_when(asked.options.get("point_in_time")),
            schema_only=bool(asked.options.get("schema_only")),
            expires_at=_when(asked.options.get("expires_at")),
            progress=run.note,
        )
        asked.branch_id = branch.id
        asked.save(update_fields=["branch_id"])
        # The deadline covers the whole job, including the create's own retries.
        remaining = max(math.ceil(_deadline_seconds() - (time.monotonic() - started)), 1)
        if branch.state != "ready":
            run.note(f"Waiting until branch {branch.name} is ready (at most {remaining:.0f} s)")
        ready = provider.wait_until_ready(branch.id, remaining, progress=run.note)
    return {"branch_id": ready.id, "branch_name": ready.name, "state": ready.state}


@tracked
def _delete(run: JobRun, branch_request_id: int) -> dict:
    asked = BranchRequest.objects.get(pk=branch_request_id)
    with opened_provider(interactive=False) as provider:
        run.note(f"Deleting branch {asked.branch_name} ({asked.branch_id})")
        provider.delete_branch(asked.branch_id)
    run.note(f"Branch {asked.branch_name} is deleted")
    return {"branch_id": asked.branch_id, "branch_name": asked.branch_name, "state": "deleted"}


@tracked
def _reset(run: JobRun, branch_request_id: int) -> dict:
    asked = BranchRequest.objects.get(pk=branch_request_id)
    with opened_provider(interactive=False) as provider:
        run.note(f"Resetting branch {asked.branch_name} ({asked.branch_id}) from its parent")
        branch = provider.reset_branch(
            asked.branch_id,
            progress=run.note,
            preserve_under_name=asked.options.get("preserve_under_name") or None,
        )
    run.note(f"Branch {branch.name} is reset and {branch.state}")
    return {"branch_id": branch.id, "branch_name": branch.name, "state": branch.state}


@app.task(name="branches.create", queue="default")
def create_branch(run_id: int, branch_request_id: int) -> None:
    """Create a branch and wait until it is ready (or failed, or the deadline passed)."""
    _create(run_id, branch_request_id=branch_request_id)


@app.task(name="branches.delete", queue="default")
def delete_branch(run_id: int, branch_request_id: int) -> None:
    """Delete a branch (one already gone counts as deleted)."""
    _delete(run_id, branch_request_id=branch_request_id)


@app.task(name="branches.reset", queue="default")
def reset_branch(run_id: int, branch_request_id: int) -> None:
    """Reset a branch from its parent and wait until it is ready again."""
    _reset(run_id, branch_request_id=branch_request_id)


@app.periodic(cron=settings.BRANCH_EXPIRY_CRON, periodic_id="branches_expire")
@app.task(name="branches.expire", queue="default", queueing_lock="branches_expire")
def expire_local_branches(timestamp: int) -> None:
    """Delete local branches whose expiry passed (scheduled; Neon expires its own)."""
    if settings.BRANCH_PROVIDER != "local":
        return
    from dashboard.branches.expiry import expired_branches_deleted
    from dashboard.branches.local_provider import LocalProvider
    from dashboard.branches.provider import BranchError
    from dashboard.target import TargetError

    try:
        expired_branches_deleted(LocalProvider.from_settings())
    except (BranchError, TargetError) as exc:
        # The next run retries; the schedule is the retry.
        logging.getLogger(__name__).warning("branch expiry skipped: %s", exc.sentence)


@app.task(name="branches.snapshot", queue="default", queueing_lock="branches_snapshot")
def take_local_snapshot(timestamp: int) -> None:
    """Take a local snapshot branch (scheduled by LOCAL_SNAPSHOT_CRON; the local provider's
    way back in time, see dashboard/branches/snapshots.py)."""
    if settings.BRANCH_PROVIDER != "local":
        return
    from dashboard.branches.local_provider import LocalProvider
    from dashboard.branches.provider import BranchError
    from dashboard.branches.snapshots import take_snapshot

    try:
        branch = take_snapshot(
            LocalProvider.from_settings(), int(settings.LOCAL_SNAPSHOT_RETENTION_HOURS)
        )
    except BranchError as exc:
        logging.getLogger(__name__).warning("local snapshot skipped: %s", exc.sentence)
        return
    logging.getLogger(__name__).info("took local snapshot %s", branch.name)


if settings.LOCAL_SNAPSHOT_CRON:  # no schedule, no snapshots
    app.periodic(cron=settings.LOCAL_SNAPSHOT_CRON, periodic_id="branches_snapshot")(
        take_local_snapshot
    )
