"""The example job end to end: enqueued by a view, run by the real procrastinate worker."""

from __future__ import annotations

import os

import psycopg
import pytest

from dashboard.jobs.models import JobRun
from dashboard.jobs.worker import run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_check_job_runs_in_the_worker_and_stores_its_result(viewer_client):
    viewer_client.post("/jobs/health-check/")
    run = JobRun.objects.get()
    assert run.status == "queued"

    run_until_idle()

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    with psycopg.connect(os.environ["TARGET_DATABASE_URL"]) as conn:
        version, tables = conn.execute(
            "SELECT current_setting('server_version'), count(*) FROM pg_tables "
            "WHERE schemaname = 'public'"
        ).fetchone()
    assert run.result["server_version"] == version.split(" ")[0]
    assert run.result["table_count"] == tables
    assert next(line["message"] for line in run.progress) == "Connecting to the target database"
    assert run.finished_at >= run.started_at


def test_failing_job_records_a_sentence(viewer_client, monkeypatch, settings):
    from dashboard import target

    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:pw@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    try:
        viewer_client.post("/jobs/health-check/")
        run_until_idle()
    finally:
        target.reset_engine()
    run = JobRun.objects.get()
    assert run.status == "failed"
    assert "not reachable" in run.error
