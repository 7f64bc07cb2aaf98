"""Procrastinate tasks (discovered by procrastinate's Django integration)."""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate.contrib.django import app

from dashboard.home.services import target_probe
from dashboard.jobs.abandoned import abandoned_runs_ended
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import tracked


@tracked
def _health_check(run: JobRun) -> dict:
    run.note("Connecting to the target database")
    probe = target_probe()
    run.note("Reading server version and size")
    return probe


@app.task(name="health_check", queue="default")
def health_check(run_id: int) -> None:
    """Example job end to end: probe the target database and store what it found."""
    _health_check(run_id)


@app.periodic(cron=settings.JOB_SWEEP_CRON, periodic_id="jobs_sweep")
@app.task(name="jobs.sweep_abandoned", queue="default", queueing_lock="jobs_sweep")
def sweep_abandoned_runs(timestamp: int) -> None:
    """End runs whose worker stopped (no heartbeat), so none stays "running" unseen."""
    ended = abandoned_runs_ended()
    if ended:
        logging.getLogger(__name__).info("ended %d abandoned job run(s)", len(ended))
