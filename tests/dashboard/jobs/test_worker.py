"""The worker's app carries every schedule the settings name; run_until_idle runs the jobs
queued before it, never the schedule's (the real worker's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection
from procrastinate.contrib.django import app

from dashboard.jobs.worker import run_until_idle

SNAPSHOT = ("queries_snapshot", "queries_snapshot")


def _scheduled_jobs_after(first_id: int) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name FROM procrastinate_jobs WHERE id > %s AND task_name = ANY(%s)",
            [first_id, [name for name, _ in app.periodic_registry.periodic_tasks]],
        )
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_run_until_idle_leaves_the_schedule_to_the_worker():
    # The snapshot's schedule (every 5 minutes) always has a tick in procrastinate's ten-minute
    # catch-up window: a periodic deferrer started here would queue (and maybe run) it.
    assert SNAPSHOT in app.periodic_registry.periodic_tasks
    with connection.cursor() as cursor:
        # Forget the ticks deferred before (by other tests, or the demo's worker).
        cursor.execute("DELETE FROM procrastinate_periodic_defers")
        cursor.execute("SELECT coalesce(max(id), 0) FROM procrastinate_jobs")
        first_id = cursor.fetchone()[0]
    for _ in range(3):
        run_until_idle()
    assert _scheduled_jobs_after(first_id) == []
    assert SNAPSHOT in app.periodic_registry.periodic_tasks  # back for the real worker


# Each *_CRON setting and the periodic task (task name, periodic id) it schedules.
SCHEDULES = {
    "QUERIES_SNAPSHOT_CRON": ("queries_snapshot", "queries_snapshot"),
    "JOB_SWEEP_CRON": ("jobs.sweep_abandoned", "jobs_sweep"),
    "BRANCH_EXPIRY_CRON": ("branches.expire", "branches_expire"),
    "LOCAL_SNAPSHOT_CRON": ("branches.snapshot", "branches_snapshot"),
    "AUDIT_VERIFY_CRON": ("audit.verify", "audit_verify"),
}
# Run in a fresh process (the schedule is registered when Django starts): the *_CRON settings
# there and the schedule of the app the worker runs (run_worker_until_stopped's connector).
SCHEDULE_SCRIPT = """
import json, django
django.setup()
from django.conf import settings
from procrastinate.contrib.django import app
from dashboard.jobs.worker import worker_connector
with app.replace_connector(worker_connector(1, 5.0)) as worker_app:
    registry = worker_app.periodic_registry.periodic_tasks
crons = {name: getattr(settings, name) for name in dir(settings) if name.endswith("_CRON")}
registered = [[task, periodic_id, entry.cron] for (task, periodic_id), entry in registry.items()]
print(json.dumps({"settings": crons, "registered": registered}))
"""


def _schedule(**crons: str) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Return the *_CRON settings and the worker's schedule ((task, id) → cron) of a process
    started with `crons` in its environment."""
    result = subprocess.run(
        [sys.executable, "-c", SCHEDULE_SCRIPT],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **crons},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    registered = {(task, periodic_id): cron for task, periodic_id, cron in found["registered"]}
    return found["settings"], registered


def test_every_cron_setting_schedules_its_task_on_the_workers_app():
    # A different schedule for each: the one registered is the one its setting names.
    crons = {name: f"{minute} 4 * * *" for minute, name in enumerate(SCHEDULES, start=7)}
    settings_seen, registered = _schedule(**crons)
    assert settings_seen == crons  # no *_CRON setting that this test does not know of
    assert registered == {SCHEDULES[name]: cron for name, cron in crons.items()}

    # Changed again, the schedule follows; LOCAL_SNAPSHOT_CRON empty means no snapshots.
    moved = {name: f"*/{minute} * * * *" for minute, name in enumerate(SCHEDULES, start=2)}
    _, registered = _schedule(**{**moved, "LOCAL_SNAPSHOT_CRON": ""})
    expected = {SCHEDULES[name]: cron for name, cron in moved.items()}
    del expected[SCHEDULES["LOCAL_SNAPSHOT_CRON"]]
    assert registered == expected
