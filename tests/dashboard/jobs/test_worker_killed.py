"""A real worker killed (SIGKILL) in the middle of a job: the job ends, is retried, runs."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time

import pytest

from tests.throwaway_console import (
    health_check_started,
    logged_in_client,
    throwaway_console,
)

pytestmark = pytest.mark.slow

HEARTBEAT_TIMEOUT_SECONDS = 3
NEVER = "0 0 29 2 *"  # only on 29 February


class SilentServer:
    """Accepts TCP connections and never answers: a target database that hangs the job."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def _run_row(console, run_id: int) -> tuple:
    with console.superuser() as conn:
        return conn.execute(
            "SELECT status, heartbeat_at, error FROM django.jobs_jobrun WHERE id = %s", (run_id,)
        ).fetchone()


def _poll(condition, attempts: int = 120, pause: float = 0.25):
    for _ in range(attempts):
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("the condition never held")


def test_a_job_whose_worker_is_killed_fails_with_a_sentence_and_its_retry_runs():
    silent = SilentServer()
    with throwaway_console(
        "killed-worker",
        JOB_HEARTBEAT_INTERVAL_SECONDS="0.5",
        JOB_HEARTBEAT_TIMEOUT_SECONDS=str(HEARTBEAT_TIMEOUT_SECONDS),
        WEB_CONCURRENCY="1",
        # Scheduled jobs that read the (hanging) target would take the worker's slots.
        QUERIES_SNAPSHOT_CRON=NEVER,
        BRANCH_EXPIRY_CRON=NEVER,
        WORKER_CONCURRENCY="4",
    ) as console:
        try:
            hanging_target = console.layout.url("todo_owner").rsplit("@", 1)[0] + (
                f"@127.0.0.1:{silent.port}/{console.layout.dbname}"
            )
            worker = console.start_manage(
                "run_worker",
                log_name="worker.log",
                TARGET_DATABASE_URL=hanging_target,
                TARGET_CONNECT_TIMEOUT_S="120",
            )
            base = console.start_web()
            client = logged_in_client(base)
            run_id = health_check_started(client)

            # The job hangs connecting to the target; its heartbeat keeps moving meanwhile.
            first = _poll(lambda: (row := _run_row(console, run_id))[0] == "running" and row)
            _poll(lambda: _run_row(console, run_id)[1] > first[1])

            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

            def ended_page() -> str | None:
                page = client.get(f"/jobs/{run_id}/", headers={"HX-Request": "true"}).text
                return page if 'data-status="failed"' in page else None

            page = _poll(ended_page, attempts=4 * (HEARTBEAT_TIMEOUT_SECONDS + 20))
            status, _, error = _run_row(console, run_id)
            assert status == "failed"
            assert error.startswith(
                "The worker stopped while checking the target database (no sign of life for "
                "more than 3 s; last step: Connecting to the target database). It was started "
                "again as job #"
            )
            assert "hx-trigger" not in page  # the page stopped polling
            retry_id = int(re.search(r"started again as job #(\d+)", error).group(1))
            with console.superuser() as conn:
                jobs = dict(
                    conn.execute(
                        "SELECT (args ->> 'run_id')::bigint, status::text "
                        "FROM django.procrastinate_jobs WHERE task_name = 'health_check'"
                    ).fetchall()
                )
            assert jobs == {run_id: "failed", retry_id: "todo"}

            # A worker that can reach the target runs the retry to the end.
            console.start_manage("run_worker", log_name="worker-2.log")
            retried = _poll(
                lambda: (
                    _run_row(console, retry_id)[0] in ("succeeded", "failed")
                    and _run_row(console, retry_id)
                ),
                attempts=160,
            )
            assert retried[0] == "succeeded", retried[2]
        finally:
            silent.close()
