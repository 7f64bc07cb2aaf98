"""Procrastinate tasks (discovered by procrastinate's Django integration)."""

from __future__ import annotations

from procrastinate.contrib.django import app

from dashboard.home.services import target_probe
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
