"""Verifying the audit chain: all of it (audit_verify, nightly), or the new part (the audit page).

A walk reads events in id order, in batches, and checks for each that it links to the event
before it (`prev_hash`) and that its content still gives its hash. The first event that fails is
the first broken link: a changed event fails its own hash; a deleted one breaks the link of the
event after it. The audit page does not re-read millions of events per view: it continues from
the last checkpoint (after making sure the checkpoint's event is still there, unchanged) and
reads at most AUDIT_VERIFY_PAGE_EVENTS new ones; the full walk is `manage.py audit_verify`,
also run by the worker on AUDIT_VERIFY_CRON.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from dashboard.audit.chain import CHAIN_FIELDS, GENESIS, chain_key, event_hash
from dashboard.audit.models import AuditEvent, ChainCheck
from dashboard.audit.ownership import Protection, audit_protection

BATCH = 2000


@dataclass(frozen=True)
class ChainBreak:
    """The first event at which the chain does not hold, and what is wrong there."""

    event_id: int
    problem: str


@dataclass
class ChainWalk:
    """What one walk verified: how many events, through which one, and any break."""

    events: int = 0
    through_id: int | None = None
    through_hash: str = GENESIS
    broken: ChainBreak | None = None
    complete: bool = True  # False: stopped at the limit with newer events left


def _content_problem(event_id: int) -> str:
    return (
        f"Event #{event_id} was changed after it was written: its content no longer matches "
        "its hash."
    )


def walk_chain(
    *,
    after_id: int | None = None,
    after_hash: str = GENESIS,
    limit: int | None = None,
    batch: int = BATCH,
) -> ChainWalk:
    """Verify the events after `after_id` (all, or at most `limit`), oldest first."""
    key = chain_key()
    walk = ChainWalk(through_id=after_id, through_hash=after_hash)
    columns = ("id", "prev_hash", "hash", *CHAIN_FIELDS)
    while True:
        size = batch if limit is None else min(batch, limit - walk.events)
        events = AuditEvent.objects.order_by("id")
        if walk.through_id is not None:
            events = events.filter(id__gt=walk.through_id)
        if size <= 0:
            walk.complete = not events.exists()
            return walk
        rows = list(events.values_list(*columns)[:size])
        for event_id, prev_hash, stored_hash, *values in rows:
            if prev_hash != walk.through_hash:
                if walk.through_id is None:
                    problem = (
                        f"Event #{event_id} is the oldest event but does not start the chain: "
                        "older events were deleted."
                    )
                else:
                    problem = (
                        f"Event #{event_id} does not follow event #{walk.through_id}: an event "
                        "between them was deleted, or one of them was changed."
                    )
                walk.broken = ChainBreak(event_id, problem)
                return walk
            if event_hash(prev_hash, dict(zip(CHAIN_FIELDS, values, strict=True)), key) != (
                stored_hash
            ):
                walk.broken = ChainBreak(event_id, _content_problem(event_id))
                return walk
            walk.events += 1
            walk.through_id, walk.through_hash = event_id, stored_hash
        if len(rows) < size:
            walk.complete = True
            return walk


def checkpoint_break(check: ChainCheck) -> ChainBreak | None:
    """Return the break when the checkpoint's event is gone or changed since it was verified."""
    if check.through_id is None:  # a check that verified nothing is no checkpoint
        return None
    row = (
        AuditEvent.objects.filter(id=check.through_id)
        .values_list("prev_hash", "hash", *CHAIN_FIELDS)
        .first()
    )
    when = f"{check.checked_at:%Y-%m-%d %H:%M} UTC"
    if row is None:
        return ChainBreak(
            check.through_id or 0,
            f"Event #{check.through_id}, verified on {when}, has been deleted.",
        )
    prev_hash, stored_hash, *values = row
    if stored_hash != check.through_hash:
        return ChainBreak(
            check.through_id or 0,
            f"Event #{check.through_id} was changed after it was verified on {when}.",
        )
    if event_hash(prev_hash, dict(zip(CHAIN_FIELDS, values, strict=True))) != stored_hash:
        return ChainBreak(check.through_id or 0, _content_problem(check.through_id))
    return None


def verify_full_chain() -> tuple[ChainWalk, ChainCheck]:
    """Walk the whole chain from the first event and record the outcome."""
    walk = walk_chain()
    check = ChainCheck.objects.create(
        full=True,
        through_id=walk.through_id,
        through_hash=walk.through_hash if walk.through_id is not None else "",
        events=walk.events,
        broken_id=walk.broken.event_id if walk.broken else None,
        problem=walk.broken.problem if walk.broken else "",
    )
    return walk, check


@dataclass
class ChainStatus:
    """What the audit page says about the chain and about who could erase the trail."""

    protection: Protection
    broken: ChainBreak | None = None
    events: int = 0  # events known good, from the first through `through_id`
    through_id: int | None = None
    pending: bool = False  # newer events are left for the next view (or audit_verify)
    last_full: ChainCheck | None = None

    @property
    def holds(self) -> bool:
        return self.broken is None


def chain_status(*, limit: int | None = None) -> ChainStatus:
    """Return the chain's state, verifying at most `limit` events newer than the checkpoint."""
    limit = settings.AUDIT_VERIFY_PAGE_EVENTS if limit is None else limit
    status = ChainStatus(protection=audit_protection(connection))
    # Records whose signature does not hold were not written by the console: not believed.
    status.last_full = (
        ChainCheck.objects.filter(full=True).order_by("-checked_at", "-id").newest_genuine()
    )
    if status.last_full is not None and status.last_full.broken_id is not None:
        status.broken = ChainBreak(status.last_full.broken_id, status.last_full.problem)
        return status
    base = (
        ChainCheck.objects.filter(broken_id__isnull=True, through_id__isnull=False)
        .order_by("-through_id", "-id")
        .newest_genuine()
    )
    if base is not None:
        status.broken = checkpoint_break(base)
        if status.broken:
            return status
    walk = walk_chain(
        after_id=base.through_id if base else None,
        after_hash=base.through_hash if base else GENESIS,
        limit=limit,
    )
    known = base.events if base else 0
    status.broken = walk.broken
    status.events = known + walk.events
    status.through_id = walk.through_id
    status.pending = not walk.complete
    if walk.events and walk.broken is None:
        check = ChainCheck.objects.create(
            through_id=walk.through_id, through_hash=walk.through_hash, events=status.events
        )
        # Only the newest page checkpoint is needed; full verifications are kept as history.
        ChainCheck.objects.filter(full=False, broken_id__isnull=True, pk__lt=check.pk).delete()
    return status
