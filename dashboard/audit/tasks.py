"""Background jobs of the audit trail: the scheduled full verification of the hash chain."""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate.contrib.django import app

from dashboard.audit.verification import verify_full_chain

logger = logging.getLogger(__name__)


@app.periodic(cron=settings.AUDIT_VERIFY_CRON, periodic_id="audit_verify")
@app.task(name="audit.verify", queue="default", queueing_lock="audit_verify")
def verify_audit_chain(timestamp: int) -> None:
    """Walk the whole audit chain and record the outcome (the audit page shows it)."""
    walk, _check = verify_full_chain()
    if walk.broken is not None:
        logger.error(
            "audit chain broken at event #%s: %s", walk.broken.event_id, walk.broken.problem
        )
    else:
        logger.info("audit chain holds: %d events verified", walk.events)
