"""run_until_idle runs the jobs queued before it, never the schedule's (the real worker's)."""

from __future__ import annotations

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
