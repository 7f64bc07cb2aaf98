"""Background jobs of the queries section: pg_stat_statements snapshots, scheduled or on demand."""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate.contrib.django import app

from dashboard.jobs.models import JobRun
from dashboard.jobs.services import tracked
from dashboard.queries.health_history import capture_health_sample
from dashboard.queries.snapshots import SnapshotUnavailable, capture_snapshot
from dashboard.target import TargetError

logger = logging.getLogger(__name__)


@app.periodic(cron=settings.QUERIES_SNAPSHOT_CRON, periodic_id="queries_snapshot")
@app.task(name="queries_snapshot", queue="default", queueing_lock="queries_snapshot")
def snapshot_statements(timestamp: int) -> None:
    """Store the pg_stat_statements deltas since the previous snapshot, and a sample of the
    health figures (scheduled)."""
    try:
        capture_health_sample()
    except TargetError as exc:
        logger.warning("health sample skipped: %s", exc.sentence)
    try:
        snapshot = capture_snapshot()
    except (SnapshotUnavailable, TargetError) as exc:
        # Not a crash: the page tells the operator what to do; retrying every few minutes is
        # the schedule itself.
        logger.warning("statement snapshot skipped: %s", exc.sentence)
        return
    logger.info(
        "statement snapshot %s: %d statements, %d changed",
        snapshot.pk,
        snapshot.statements,
        snapshot.changed,
    )


@tracked
def _snapshot_now(run: JobRun) -> dict:
    run.note("Reading the health figures")
    capture_health_sample()
    run.note("Reading pg_stat_statements")
    snapshot = capture_snapshot()
    if snapshot.baseline_only:
        run.note("First snapshot: it records where the counters stand; deltas start next time")
    return {
        "snapshot": snapshot.pk,
        "statements read": snapshot.statements,
        "statements changed": snapshot.changed,
        "reset detected": snapshot.reset_detected,
    }


@app.task(name="queries_snapshot_now", queue="default")
def snapshot_now(run_id: int) -> None:
    """Take a snapshot now, on an operator's request, tracked as a JobRun."""
    _snapshot_now(run_id)
