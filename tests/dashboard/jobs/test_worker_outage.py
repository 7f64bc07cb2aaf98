"""run_worker_until_stopped rides out its database's outage: no return, no exception, and the
next job runs once the database is back.

Unsupervised (no serve_console to start it again): the worker function runs in a process of
its own, which says when the function returns or raises. The console's database, a throwaway
cluster, stays stopped until procrastinate's worker has stopped on a connection error and the
function has waited for the database with backoff, then starts again. The connector's LISTEN
connection, lost too, is tried again while the worker polls.
"""

from __future__ import annotations

import re
import sys
import time

import pytest

from tests.throwaway_console import ThrowawayConsole, throwaway_console

pytestmark = pytest.mark.slow

# The database stays down at least this long, and until the function has waited for it twice
# after procrastinate's worker stopped on a connection error (its pool waits POOL_TIMEOUT for
# one; 10 s in production), within at most NOTICED_WITHIN_SECONDS.
POOL_TIMEOUT = 2.0
MIN_OUTAGE_SECONDS = 3 * POOL_TIMEOUT
NOTICED_WITHIN_SECONDS = 90
WAITING = "the job worker is waiting for its database"
LISTENER = "schemadesk-worker-listen"
NEVER = "0 0 29 2 *"  # only on 29 February: no scheduled job competes with the test's
WORKER = (
    f"POOL_TIMEOUT = {POOL_TIMEOUT}\n"
    + """
import asyncio, signal, django
django.setup()
from dashboard.jobs.worker import run_worker_until_stopped


async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        restarts = await run_worker_until_stopped(
            stop,
            reconnect_max_seconds=1.0,
            pool_timeout=POOL_TIMEOUT,
            concurrency=1,
            fetch_job_polling_interval=1.0,
        )
    except BaseException as exc:
        print(f"WORKER RAISED {type(exc).__name__}: {exc}", flush=True)
        raise
    print(f"WORKER RETURNED after {restarts} restarts", flush=True)


asyncio.run(main())
"""
)
ENDED = ("WORKER RETURNED", "WORKER RAISED")


def _queue_health_check(console: ThrowawayConsole) -> int:
    code = (
        "from dashboard.jobs.models import JobRun\n"
        "from dashboard.jobs.tasks import health_check\n"
        "run = JobRun.objects.create(kind='health_check', task_name=health_check.name)\n"
        "health_check.defer(run_id=run.pk)\n"
        "print(run.pk)\n"
    )
    return int(console.manage("shell", "-c", code).strip().splitlines()[-1])


def _status(console: ThrowawayConsole, run_id: int) -> str:
    with console.superuser() as conn:
        row = conn.execute("SELECT status FROM django.jobs_jobrun WHERE id = %s", (run_id,))
        return row.fetchone()[0]


def _listening(console: ThrowawayConsole) -> bool:
    with console.superuser() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND query ILIKE 'LISTEN %%'",
            (LISTENER,),
        )
        return row.fetchone()[0] > 0


def _until(condition, what: str, seconds: float = 60) -> None:
    """Wait for `condition` (a bound on waiting, not a speed test)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.25)


def test_the_worker_rides_out_a_database_outage_and_runs_the_next_job():
    with throwaway_console(
        "worker-outage",
        QUERIES_SNAPSHOT_CRON=NEVER,
        BRANCH_EXPIRY_CRON=NEVER,
        LOG_REPEAT_INTERVAL_SECONDS="0",  # every try at the database in the log, none held back
    ) as console:
        worker = console.start([sys.executable, "-c", WORKER], "worker.log")
        _until(lambda: _listening(console), "the worker listens for jobs")
        before = _queue_health_check(console)
        _until(lambda: _status(console, before) == "succeeded", "the job before the outage")

        console.cluster.stop()
        stopped_at = time.monotonic()
        while True:
            log = console.log_text("worker.log")
            assert worker.poll() is None, f"the worker exited during the outage:\n{log[-3000:]}"
            assert not any(mark in log for mark in ENDED), log[-3000:]
            down = time.monotonic() - stopped_at
            if log.count(WAITING) >= 2 and down >= MIN_OUTAGE_SECONDS:
                break
            assert down < NOTICED_WITHIN_SECONDS, f"no wait for the database:\n{log[-3000:]}"
            time.sleep(0.5)
        console.cluster.start()

        # Back: it listens again and runs the next job, still the same process and call.
        after = _queue_health_check(console)
        _until(lambda: _status(console, after) == "succeeded", "the job after the outage")
        _until(lambda: _listening(console), "the worker listens again")
        log = console.log_text("worker.log")
        assert worker.poll() is None and not any(mark in log for mark in ENDED), log[-3000:]
        # procrastinate's worker did stop on the outage (so this tested something), and the
        # function, having waited for the database, started it again.
        assert "the job worker stopped (" in log, log[-3000:]
        assert "the worker cannot listen for new jobs (" in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]

        # Only a stop ends it: the function returns, the process exits cleanly.
        assert console.stop(worker) == 0
        log = console.log_text("worker.log")
        restarts = re.search(r"WORKER RETURNED after (\d+) restarts", log)
        assert restarts and int(restarts.group(1)) >= 1, log[-3000:]
