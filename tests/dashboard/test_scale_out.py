"""Two web servers and two workers on one console database, as behind a load balancer.

Sessions work across the web servers (they live in the database), every job runs exactly
once (workers take jobs with FOR UPDATE SKIP LOCKED), and every scheduled job fires once per
period (procrastinate's periodic deferrer inserts under a unique (task, periodic id,
timestamp) key, so the second worker's insert is a no-op).
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from tests.throwaway_console import (
    csrf_headers,
    logged_in_client,
    throwaway_console,
)

pytestmark = pytest.mark.slow

JOBS = 12
PERIOD_SECONDS = 2
SCHEDULE_SECONDS = 12  # how long the schedule is watched
PERIODIC_TASKS = ("queries_snapshot", "jobs.sweep_abandoned")


def _query(console, sql: str, *params) -> list[tuple]:
    with console.superuser() as conn:
        return conn.execute(sql, params).fetchall()


def test_two_web_servers_and_two_workers_share_sessions_jobs_and_the_schedule():
    every_period = f"* * * * * */{PERIOD_SECONDS}"
    with throwaway_console(
        "scale-out",
        QUERIES_SNAPSHOT_CRON=every_period,
        JOB_SWEEP_CRON=every_period,
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="2",
    ) as console:
        schedule_from = time.time()
        workers = [
            console.start_manage("run_worker", log_name=f"worker-{number}.log")
            for number in range(2)
        ]
        bases = [console.start_web(f"web-{number}.log") for number in range(2)]

        # Log in on the first web server; the same session works on the second one.
        first = logged_in_client(bases[0])
        second = httpx.Client(base_url=bases[1], cookies=first.cookies, timeout=15)
        page = second.get("/")
        assert page.status_code == 200 and "operator · admin" in page.text
        # A POST made on the second with the first one's CSRF cookie is accepted.
        headers = {**csrf_headers(first), "Referer": f"{bases[1]}/"}
        assert second.post("/jobs/health-check/", headers=headers).status_code == 302

        # Jobs started on both web servers run exactly once each, on either worker.
        for number in range(JOBS - 1):
            client = (first, second)[number % 2]
            headers = {**csrf_headers(first), "Referer": f"{client.base_url}/"}
            assert client.post("/jobs/health-check/", headers=headers).status_code == 302
        for _ in range(300):
            runs = _query(console, "SELECT status, progress FROM django.jobs_jobrun")
            if len(runs) == JOBS and all(status == "succeeded" for status, _ in runs):
                break
            time.sleep(0.1)
        assert [status for status, _ in runs] == ["succeeded"] * JOBS, runs
        # One start per job: a job run twice would have its progress lines twice.
        assert all(len(progress) == 2 for _, progress in runs), runs
        started = _query(
            console,
            "SELECT job_id, count(*) FROM django.procrastinate_events "
            "WHERE type = 'started' GROUP BY job_id HAVING count(*) > 1",
        )
        assert started == []

        # Every scheduled task fires once per period, although both workers schedule it.
        time.sleep(max(0.0, SCHEDULE_SECONDS - (time.time() - schedule_from)))
        fired = _query(
            console,
            "SELECT task_name, (args ->> 'timestamp')::bigint FROM django.procrastinate_jobs "
            "WHERE task_name = ANY(%s)",
            list(PERIODIC_TASKS),
        )
        per_tick = Counter(fired)
        assert per_tick and max(per_tick.values()) == 1, per_tick
        for task in PERIODIC_TASKS:
            ticks = [stamp for name, stamp in fired if name == task]
            # It fired every period since the workers started (the first may be missed while
            # they start, and a snapshot still queued makes the next tick wait).
            assert len(ticks) >= SCHEDULE_SECONDS // PERIOD_SECONDS - 2, (task, sorted(ticks))
        # The workers stopped (a running job ends first), nothing is half done when counting.
        for worker in workers:
            assert console.stop(worker) == 0
        snapshots = _query(console, "SELECT count(*) FROM django.queries_statementsnapshot")[0][0]
        succeeded = _query(
            console,
            "SELECT count(*) FROM django.procrastinate_jobs "
            "WHERE task_name = 'queries_snapshot' AND status = 'succeeded'",
        )[0][0]
        assert snapshots == succeeded  # one snapshot per fired job, none doubled
