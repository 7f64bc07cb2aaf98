"""Which branch a comparison reads: any branch of the provider, or the data as of a time.

"As of <time>" on Neon makes a point-in-time branch (`parent_timestamp` on the default branch)
through the branch create job, so it shows progress like any branch; the time must lie inside
the project's history window (`history_retention_seconds`), which the page states. Such a
branch expires after TIME_MACHINE_BRANCH_TTL_SECONDS (Neon deletes it) unless kept, and the
comparison offers to delete it at once. Local branches cannot go back in time: "as of" picks the
newest snapshot branch taken at or before that time (dashboard/branches/snapshots.py) and says
which. A branch is read as the role the console migrates it with (its owner: row-level
security does not hide rows from it), in read-only transactions (dashboard/target.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from dashboard.branches.models import BranchRequest
from dashboard.branches.neon_provider import NeonProvider
from dashboard.branches.provider import READY, BranchError, BranchInfo
from dashboard.branches.provider_access import (
    ProviderSummary,
    _existing_branch,
    _logged,
    _sorted,
    check_branch_id,
    opened_provider,
    provider_summary,
)
from dashboard.branches.snapshots import is_snapshot, ready_snapshots, snapshot_at_or_before
from dashboard.jobs.abandoned import checked_run
from dashboard.jobs.models import JobRun
from dashboard.target import run_branch_read

PURPOSE = "time machine"
AS_OF_PREFIX = "asof-"


class AsOfRefused(Exception):
    """An "as of" request that cannot be carried out, with the sentence saying why."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


@dataclass
class Choices:
    """What the comparison can read: the provider's ready branches and how far back it goes."""

    provider: ProviderSummary
    branches: list[BranchInfo] = field(default_factory=list)
    snapshots: list[BranchInfo] = field(default_factory=list)
    history_seconds: int | None = None  # Neon: the project's history window
    error: str = ""

    @property
    def earliest(self) -> datetime | None:
        """Return the earliest time "as of" can reach (None: unknown or no way back)."""
        if self.history_seconds is not None:
            return datetime.now(UTC) - timedelta(seconds=self.history_seconds)
        if self.snapshots:
            return self.snapshots[-1].created_at
        return None

    @property
    def history_text(self) -> str:
        seconds = self.history_seconds or 0
        if seconds % 86400 == 0 and seconds:
            return f"{seconds // 86400} day{'s' if seconds != 86400 else ''}"
        return f"{seconds / 3600:g} hours"


def compare_choices() -> Choices:
    """Return the branches a comparison may read (a provider failure becomes `error`)."""
    choices = Choices(provider=provider_summary())
    try:
        with opened_provider() as provider:
            ready = [b for b in _sorted(provider.list_branches()) if b.state == READY]
            if isinstance(provider, NeonProvider):
                choices.history_seconds = provider.history_retention_seconds()
    except BranchError as exc:
        choices.error = _logged(exc, "listing branches to compare with")
        return choices
    choices.branches = [b for b in ready if not b.is_default]
    choices.snapshots = ready_snapshots(ready)
    return choices


Reader = Callable[[Callable[[Any], Any]], Any]


@dataclass
class Source:
    """The branch a comparison reads, and how to read it."""

    branch: BranchInfo
    read: Reader
    snapshot: bool = False
    disposable: bool = False  # made for a comparison, not kept: offer to delete it now


def open_source(branch_id: str) -> Source:
    """Return the branch to compare with (Http404 when unknown; BranchError otherwise)."""
    check_branch_id(branch_id)
    with opened_provider() as provider:
        branch = _existing_branch(provider, branch_id)
        if branch.state != READY:
            raise BranchError(f"Branch {branch.name} is not ready yet ({branch.state}).")
        if branch.is_default:
            raise BranchError(f"{branch.name} is the default branch: compare with another one.")
        url = provider.migration_url(branch_id)  # a secret: used here, never shown or kept
    timeout = int(settings.COMPARE_TIMEOUT_MS)

    def read(work: Callable[[Any], Any]) -> Any:
        return run_branch_read(url, work, timeout_ms=timeout)

    return Source(branch, read, snapshot=is_snapshot(branch), disposable=_disposable(branch))


def _time_machine_request(branch_id: str) -> BranchRequest | None:
    return (
        BranchRequest.objects.filter(
            branch_id=branch_id,
            action=BranchRequest.Action.CREATE,
            options__purpose=PURPOSE,
        )
        .order_by("-pk")
        .first()
    )


def _disposable(branch: BranchInfo) -> bool:
    asked = _time_machine_request(branch.id)
    return asked is not None and bool(asked.options.get("expires_at"))


@dataclass
class AsOf:
    """Where an "as of" request leads: a job making a Neon branch, or a local snapshot."""

    run: JobRun | None = None
    snapshot: BranchInfo | None = None


def as_of(request: HttpRequest, when: datetime, *, keep: bool = False) -> AsOf:
    """Start comparing with the data as of `when` (AsOfRefused with a sentence if it cannot)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if when >= now:
        raise AsOfRefused("The time must be in the past.")
    # The form's time is in the console's zone (TIME_ZONE); sentences and names say UTC.
    try:
        when = when.astimezone(UTC)
    except OverflowError:  # 0001-01-01 00:00 east of Greenwich is in year 0 in UTC
        raise AsOfRefused("The time is before any history a database keeps.") from None
    choices = compare_choices()
    if choices.error:
        raise AsOfRefused(choices.error)
    if not choices.provider.is_neon:
        snapshot = snapshot_at_or_before(choices.snapshots, when)
        if snapshot is None:
            raise AsOfRefused(_no_snapshot(choices, when))
        return AsOf(snapshot=snapshot)
    earliest = choices.earliest
    if earliest is not None and when < earliest:
        raise AsOfRefused(
            f"Neon keeps this project's history for {choices.history_text}: the earliest time "
            f"is {earliest:%Y-%m-%d %H:%M} UTC."
        )
    parent = _default_branch_id()
    from dashboard.branches.services import NewBranch, start_create

    name = f"{AS_OF_PREFIX}{when:%Y%m%dt%H%M%S}-{secrets.token_hex(3)}"
    ttl = timedelta(seconds=int(settings.TIME_MACHINE_BRANCH_TTL_SECONDS))
    new = NewBranch(
        name=name,
        parent_id=parent,
        point_in_time=when,
        expires_at=None if keep else now + ttl,
        purpose=PURPOSE,
    )
    return AsOf(run=start_create(request, new))


def _default_branch_id() -> str:
    try:
        with opened_provider() as provider:
            branches = provider.list_branches()
    except BranchError as exc:
        raise AsOfRefused(_logged(exc, "finding the default branch")) from None
    found = next((b.id for b in branches if b.is_default), None)
    if found is None:
        raise AsOfRefused("The Neon project has no default branch to go back in time from.")
    return found


def _no_snapshot(choices: Choices, when: datetime) -> str:
    if not choices.snapshots:
        how = (
            "LOCAL_SNAPSHOT_CRON is not set"
            if not settings.LOCAL_SNAPSHOT_CRON
            else "none has been taken yet"
        )
        return (
            "Local branches copy the database as it is now and cannot go back in time; the "
            f"console compares with scheduled snapshot branches, and {how}."
        )
    oldest = choices.snapshots[-1]
    return (
        f"There is no snapshot at or before {when:%Y-%m-%d %H:%M} UTC: the oldest kept is "
        f"{oldest.name}, taken {oldest.created_at:%Y-%m-%d %H:%M} UTC "
        f"(LOCAL_SNAPSHOT_RETENTION_HOURS keeps {settings.LOCAL_SNAPSHOT_RETENTION_HOURS} h)."
    )


def as_of_job(run_id: int) -> tuple[JobRun, BranchRequest] | None:
    """Return an "as of" branch job and its request (None when it is not one); a run whose
    worker stopped is ended first, so its page says so and stops polling."""
    run = JobRun.objects.filter(pk=run_id, kind="branch_create").first()
    asked = BranchRequest.objects.filter(job_run=run).first() if run else None
    if run is None or asked is None or asked.options.get("purpose") != PURPOSE:
        return None
    return checked_run(run), asked
