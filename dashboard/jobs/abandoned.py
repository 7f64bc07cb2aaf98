"""Runs whose worker stopped: failed with a sentence, started again where that is safe.

A running job writes a heartbeat (dashboard.jobs.heartbeat). A run without one for longer
than JOB_HEARTBEAT_TIMEOUT_SECONDS lost its worker (killed, out of memory, machine gone, or
cut off from the console's database): whoever looks first (a job page, the worker's
scheduled sweep) ends it, so pages stop polling. Kinds that are safe to run twice get a new
run; the others say what to check first (dashboard.jobs.kinds).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, ForeignObjectRel, QuerySet
from django.db.models.functions import Coalesce, Now
from django.dispatch import Signal
from django.utils import timezone
from procrastinate.contrib.django import app

from dashboard.jobs.kinds import job_kind
from dashboard.jobs.models import JobRun

logger = logging.getLogger(__name__)

# Sent after a run was given up on: `run` (failed) and `retry` (the new run, or None).
run_abandoned = Signal()

# procrastinate's own record of the job: ended too, so its queue does not show it as running.
PROCRASTINATE_JOBS_OF_RUN = """
    SELECT id
    FROM procrastinate_jobs
    WHERE status = 'doing'
      AND args ->> 'run_id' = %s
"""
PROCRASTINATE_FINISH = "SELECT procrastinate_finish_job_v1(%s, 'failed', false)"


def _stale(timeout_seconds: float) -> QuerySet[JobRun]:
    return (
        JobRun.objects.filter(status=JobRun.Status.RUNNING)
        .annotate(last_sign=Coalesce(F("heartbeat_at"), F("started_at"), F("created_at")))
        .filter(last_sign__lt=Now() - timedelta(seconds=timeout_seconds))
    )


def abandoned_sentence(run: JobRun, timeout_seconds: float, retry: JobRun | None) -> str:
    """Return what the run's page says: what the job was doing, and what happens next."""
    kind = job_kind(run.kind)
    last_step = run.progress[-1]["message"] if run.progress else ""
    sentence = (
        f"The worker stopped while {kind.doing} (no sign of life for more than "
        f"{timeout_seconds:.0f} s{'; last step: ' + last_step if last_step else ''})."
    )
    if retry is not None:
        return f"{sentence} It was started again as job #{retry.pk}."
    if kind.retry_safe:
        return f"{sentence} It was not started again: it already was once."
    return f"{sentence} It was not started again: {kind.check_first}."


def _retry(run: JobRun) -> JobRun | None:
    """Start the run again as a new run (once, for kinds safe to retry); return it."""
    if not job_kind(run.kind).retry_safe or run.retry_of_id is not None or not run.task_name:
        return None
    retry = JobRun.objects.create(
        kind=run.kind,
        task_name=run.task_name,
        params=run.params,
        created_by_id=run.created_by_id,
        retry_of=run,
    )
    # Whatever pointed at the abandoned run (a branch request, a revision's SQL) follows it.
    for relation in JobRun._meta.get_fields(include_hidden=True):
        reverse_foreign_key = relation.one_to_many and relation.auto_created
        if not reverse_foreign_key or not isinstance(relation, ForeignObjectRel):
            continue
        model = relation.related_model
        if model is JobRun or not isinstance(model, type):
            continue
        field = relation.field.name
        model._base_manager.filter(**{field: run}).update(**{field: retry})
    transaction.on_commit(
        lambda: app.configure_task(name=run.task_name).defer(run_id=retry.pk, **run.params)
    )
    return retry


def _end_procrastinate_jobs(run: JobRun) -> None:
    with connection.cursor() as cursor:
        cursor.execute(PROCRASTINATE_JOBS_OF_RUN, [str(run.pk)])
        for (job_id,) in cursor.fetchall():
            cursor.execute(PROCRASTINATE_FINISH, [job_id])


def checked_run(run: JobRun, timeout_seconds: float | None = None) -> JobRun:
    """Return `run`, ended first if it looks abandoned (a page looking at it: no extra query
    unless it is running and silent; the database decides, on its own clock)."""
    if timeout_seconds is None:
        timeout_seconds = float(settings.JOB_HEARTBEAT_TIMEOUT_SECONDS)
    last_sign = run.heartbeat_at or run.started_at or run.created_at
    silent = last_sign is not None and last_sign < timezone.now() - timedelta(
        seconds=timeout_seconds
    )
    if run.status == JobRun.Status.RUNNING and silent:
        abandoned_runs_ended(timeout_seconds)
        run.refresh_from_db()
    return run


def abandoned_runs_ended(timeout_seconds: float | None = None) -> list[JobRun]:
    """End every running job whose heartbeat is older than the timeout; return those ended.

    Safe to call from several places at once: a run is ended by exactly one caller.
    """
    if timeout_seconds is None:
        timeout_seconds = float(settings.JOB_HEARTBEAT_TIMEOUT_SECONDS)
    ended = []
    for run in _stale(timeout_seconds):
        with transaction.atomic():
            claimed = (
                _stale(timeout_seconds)
                .filter(pk=run.pk)
                .update(status=JobRun.Status.FAILED, finished_at=Now())
            )
            if not claimed:
                continue  # someone else ended it, or its heartbeat just came
            retry = _retry(run)
            run.error = abandoned_sentence(run, timeout_seconds, retry)
            JobRun.objects.filter(pk=run.pk).update(error=run.error)
            _end_procrastinate_jobs(run)
        run.refresh_from_db()
        # Not the sentence: its last progress line is the job's own text, kept to its page.
        logger.warning(
            "job %s #%s: its worker stopped (no heartbeat for %.0f s); %s",
            run.kind,
            run.pk,
            timeout_seconds,
            f"started again as #{retry.pk}" if retry else "not started again",
        )
        run_abandoned.send(sender=JobRun, run=run, retry=retry)
        ended.append(run)
    return ended
