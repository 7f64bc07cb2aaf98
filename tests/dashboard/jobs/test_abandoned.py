"""A run whose worker stopped is failed with a sentence, retried where safe, and not polled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dashboard.history.models import RevisionSql
from dashboard.jobs.abandoned import abandoned_runs_ended
from dashboard.jobs.heartbeat import Heartbeat
from dashboard.jobs.kinds import JOB_KINDS
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60


def _running(kind: str, silent_for: float, **fields) -> JobRun:
    """Return a run that started, with its last heartbeat `silent_for` seconds ago."""
    last = timezone.now() - timedelta(seconds=silent_for)
    return JobRun.objects.create(
        kind=kind,
        status=JobRun.Status.RUNNING,
        started_at=last,
        heartbeat_at=last,
        progress=[{"at": last.isoformat(), "message": "Connecting to the target database"}],
        **fields,
    )


def _procrastinate_jobs(run_id: int) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, status FROM procrastinate_jobs WHERE args ->> 'run_id' = %s",
            [str(run_id)],
        )
        return cursor.fetchall()


def test_the_job_page_ends_a_silent_run_says_why_and_stops_polling(viewer_client, settings):
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = TIMEOUT
    run = _running("health_check", TIMEOUT + 5, task_name="health_check")

    page = viewer_client.get(f"/jobs/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()

    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    retry = JobRun.objects.get(retry_of=run)
    assert run.error == (
        "The worker stopped while checking the target database (no sign of life for more "
        "than 60 s; last step: Connecting to the target database). It was started again as "
        f"job #{retry.pk}."
    )
    assert "hx-trigger" not in page  # the page stops polling
    assert "The worker stopped while checking the target database" in page
    assert f'href="/jobs/{retry.pk}/"' in page
    # The retry is a real queued job for the worker, with the same parameters.
    assert (retry.status, retry.kind, retry.params) == ("queued", "health_check", run.params)
    assert _procrastinate_jobs(retry.pk) == [("health_check", "todo")]
    retry_page = viewer_client.get(f"/jobs/{retry.pk}/").content.decode()
    assert f'href="/jobs/{run.pk}/"' in retry_page and 'hx-trigger="every 1s"' in retry_page


def test_a_run_with_a_recent_heartbeat_is_left_alone(settings):
    run = _running("health_check", TIMEOUT - 5, task_name="health_check")
    assert abandoned_runs_ended(timeout_seconds=TIMEOUT) == []
    run.refresh_from_db()
    assert run.status == "running"


@pytest.mark.parametrize("kind", [k for k, v in JOB_KINDS.items() if not v.retry_safe])
def test_kinds_unsafe_to_repeat_are_not_retried_and_say_what_to_check(kind):
    run = _running(kind, TIMEOUT + 5, task_name="some.task")
    [ended] = abandoned_runs_ended(timeout_seconds=TIMEOUT)
    assert ended.pk == run.pk and ended.status == "failed"
    assert not JobRun.objects.filter(retry_of=run).exists()
    assert f"It was not started again: {JOB_KINDS[kind].check_first}." in ended.error


def test_a_retry_is_retried_only_once():
    first = _running("health_check", TIMEOUT + 5, task_name="health_check")
    second = _running("health_check", TIMEOUT + 5, task_name="health_check", retry_of=first)
    first.status = "failed"
    first.save()
    [ended] = abandoned_runs_ended(timeout_seconds=TIMEOUT)
    assert ended.pk == second.pk
    assert ended.error.endswith("It was not started again: it already was once.")
    assert JobRun.objects.count() == 2


def test_what_pointed_at_the_run_follows_the_retry(admin_user):
    from dashboard.history.tasks import generate_revision_sql

    row = RevisionSql.objects.create(project="p", revision="002", script_hash="h")
    row.job = enqueue(generate_revision_sql, kind="revision_sql", revision_sql_id=row.pk)
    row.save()
    JobRun.objects.filter(pk=row.job_id).update(
        status="running", heartbeat_at=timezone.now() - timedelta(seconds=TIMEOUT + 5)
    )
    [ended] = abandoned_runs_ended(timeout_seconds=TIMEOUT)
    row.refresh_from_db()
    assert row.job.retry_of_id == ended.pk and row.status == "pending"
    # Its worker stops again: the SQL is failed (the page offers "Generate again").
    JobRun.objects.filter(pk=row.job_id).update(
        status="running", heartbeat_at=timezone.now() - timedelta(seconds=TIMEOUT + 5)
    )
    abandoned_runs_ended(timeout_seconds=TIMEOUT)
    row.refresh_from_db()
    assert row.status == "failed"
    assert row.upgrade_error.startswith("The worker stopped while generating a revision's SQL")


def test_procrastinate_forgets_the_abandoned_job_too():
    from dashboard.jobs.tasks import health_check

    run = enqueue(health_check, kind="health_check")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing' WHERE args ->> 'run_id' = %s",
            [str(run.pk)],
        )
    JobRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at=timezone.now() - timedelta(seconds=TIMEOUT + 5)
    )
    abandoned_runs_ended(timeout_seconds=TIMEOUT)
    assert _procrastinate_jobs(run.pk) == [("health_check", "failed")]


def test_two_lookers_end_a_run_once():
    run = _running("health_check", TIMEOUT + 5, task_name="health_check")
    first = abandoned_runs_ended(timeout_seconds=TIMEOUT)
    second = abandoned_runs_ended(timeout_seconds=TIMEOUT)
    assert [r.pk for r in first] == [run.pk] and second == []
    assert JobRun.objects.filter(retry_of=run).count() == 1


def test_a_late_outcome_does_not_overwrite_the_sentence():
    run = _running("health_check", TIMEOUT + 5, task_name="health_check")
    abandoned_runs_ended(timeout_seconds=TIMEOUT)
    run.succeed({"late": True})  # the worker was only cut off, and finished after all
    run.refresh_from_db()
    assert run.status == "failed" and run.result == {}


def test_the_heartbeat_is_written_while_the_job_runs():
    run = JobRun.objects.create(kind="health_check")
    run.start()
    JobRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with Heartbeat(run.pk, interval_seconds=0.05) as heartbeat:
        for _ in range(200):
            if heartbeat.beats >= 2:
                break
            heartbeat._stop.wait(0.05)
    run.refresh_from_db()
    assert heartbeat.beats >= 2
    assert timezone.now() - run.heartbeat_at < timedelta(minutes=1)
