"""Behind PgBouncer in transaction mode: pages work, jobs start at once (LISTEN goes direct).

Every connection of the console goes through a real PgBouncer; only the worker's LISTEN uses
DATABASE_DIRECT_URL. With the worker's polling set to an hour (it polls once, at its start),
a job queued later that runs at all during the test was woken by a notification, which
PgBouncer would have dropped.
"""

from __future__ import annotations

import statistics
import time

import pytest

from core.embedded import CONSOLE_ROLE
from tests.pgbouncer import PgBouncer
from tests.throwaway_console import (
    DATABASE,
    health_check_started,
    logged_in_client,
    throwaway_console,
)

pytestmark = pytest.mark.slow

POLL_INTERVAL_SECONDS = 3600  # longer than the test: no job queued after the start is polled
PICKUP_CHECKS = 600  # checks 0.1 s apart (a bound on waiting, not a speed test)
JOBS = 5
MAIN_PAGES = [
    "/",
    "/schema/",
    "/schema/tasks/",
    "/data/",
    "/migrations/",
    "/branches/",
    "/queries/",
    "/queries/activity/",
    "/queries/health/",
    "/users/",
    "/audit/",
]
APPLICATION_TABLES = {"users", "tasks", "conversations", "messages", "alembic_version"}


def _listeners(console) -> list[str]:
    with console.superuser() as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE query ILIKE 'LISTEN %%'"
        ).fetchall()
    return [name for (name,) in rows]


def _run(console, run_id: int) -> tuple[str, float | None]:
    with console.superuser() as conn:
        return conn.execute(
            "SELECT status, extract(epoch FROM started_at - created_at) "
            "FROM django.jobs_jobrun WHERE id = %s",
            (run_id,),
        ).fetchone()


def test_pages_and_jobs_through_a_transaction_pooler_with_listen_on_the_direct_url(capsys):
    with (
        throwaway_console("pooler", migrate=False) as console,
        PgBouncer(
            console.cluster.port,
            {CONSOLE_ROLE: console.layout.passwords[CONSOLE_ROLE]},
            pool_size=10,
            # The client's address is added to application_name: a backend whose name has
            # none was reached without the pooler.
            extra_settings={"application_name_add_host": "1"},
        ) as bouncer,
    ):
        through_pooler = {
            "DATABASE_URL": bouncer.url(
                CONSOLE_ROLE, console.layout.passwords[CONSOLE_ROLE], DATABASE
            ),
            "DATABASE_POOLED": "true",
            "DATABASE_CONN_MAX_AGE": "0",
            "DATABASE_DIRECT_URL": console.layout.url(CONSOLE_ROLE),
            "WORKER_POLL_INTERVAL_SECONDS": str(POLL_INTERVAL_SECONDS),
            "WEB_CONCURRENCY": "1",
        }
        console.settings.update(through_pooler)
        console.migrate()  # Django's tables, created through the pooler

        console.start_manage("run_worker", log_name="worker.log")
        base = console.start_web()
        client = logged_in_client(base)

        for path in MAIN_PAGES:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        health = client.get("/healthz").json()
        assert health["ok"] is True, health

        # The worker listens on a direct connection (no address added by the pooler).
        for _ in range(100):
            if "schemadesk-worker-listen" in _listeners(console):
                break
            time.sleep(0.1)
        assert _listeners(console) == ["schemadesk-worker-listen"]

        pickups = []
        for _ in range(JOBS):
            run_id = health_check_started(client)
            for _ in range(PICKUP_CHECKS):
                status, pickup = _run(console, run_id)
                if status == "succeeded":
                    break
                time.sleep(0.1)
            assert status == "succeeded", (run_id, status)
            pickups.append(pickup)
        with capsys.disabled():
            print(
                f"\njob pickup through PgBouncer (transaction mode), polling every "
                f"{POLL_INTERVAL_SECONDS} s: median {statistics.median(pickups):.3f} s, "
                f"max {max(pickups):.3f} s over {JOBS} jobs"
            )

        # Django's tables stayed in `django`; nothing of the console leaked into `public`.
        with console.superuser() as conn:
            public = {
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
            django = {
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'django'"
                )
            }
        assert public == APPLICATION_TABLES
        assert {"django_session", "jobs_jobrun", "procrastinate_jobs"} <= django
        bouncer_log = (bouncer.folder / "pgbouncer.log").read_text()
        assert "when not linked" not in bouncer_log
