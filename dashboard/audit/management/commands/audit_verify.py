"""Verify the whole audit chain and say whether the console's role could erase the trail.

Exit codes: 0 the chain holds and the trail is protected; 1 the chain is broken (the first
broken link is named); 2 the chain holds but the console's role could change or erase events.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from dashboard.audit.ownership import audit_protection
from dashboard.audit.verification import verify_full_chain

BROKEN = 1
UNPROTECTED = 2


class Command(BaseCommand):
    help = (
        "Walk the audit chain from the first event, name the first broken link (exit 1), and "
        "check that the console's database role cannot change or erase events (exit 2)."
    )

    def handle(self, *args, **options) -> None:
        walk, _check = verify_full_chain()
        protection = audit_protection(connection)
        for problem in protection.problems:
            self.stderr.write(f"Warning: {problem}")
        if walk.broken is not None:
            raise CommandError(
                f"The audit chain is broken at event #{walk.broken.event_id}: "
                f"{walk.broken.problem} ({walk.events} events before it verify.)",
                returncode=BROKEN,
            )
        if walk.through_id is None:
            self.stdout.write("The audit trail is empty: nothing to verify.")
        else:
            # The newest hash, kept somewhere else, also shows if newer events are removed later.
            events = f"{walk.events} event{'s' if walk.events != 1 else ''}"
            self.stdout.write(
                f"The chain holds: {events} verified; the newest is "
                f"#{walk.through_id} with hash {walk.through_hash}."
            )
        if not protection.holds:
            raise CommandError(
                "The console's database role could change or erase audit events (see the "
                "warnings above).",
                returncode=UNPROTECTED,
            )
