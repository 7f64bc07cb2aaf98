"""Enqueueing background jobs and tracking their runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector

from dashboard.jobs.heartbeat import Heartbeat
from dashboard.jobs.kinds import checked_job_kind
from dashboard.jobs.models import JobRun

logger = logging.getLogger(__name__)


def enqueue(
    task: Any, kind: str, user: AbstractBaseUser | AnonymousUser | None = None, **params: Any
) -> JobRun:
    """Create a JobRun and defer `task(run_id=..., **params)`: both commit, or neither does.

    Through Django's connector the job is queued in the same transaction as its JobRun, so a
    database lost between the two never leaves a run "queued" with no job behind it (its page
    would wait for ever). Another connector (the worker's) queues it once the run committed.
    `kind` must have a role in dashboard/jobs/kinds.py (who may see the run's page).
    """
    with transaction.atomic():
        run = JobRun.objects.create(
            kind=checked_job_kind(kind),
            task_name=task.name,
            params=params,
            created_by=user if isinstance(user, User) and user.is_authenticated else None,
        )
        if isinstance(app.connector, DjangoConnector):
            task.defer(run_id=run.pk, **params)
        else:
            transaction.on_commit(lambda: task.defer(run_id=run.pk, **params))
    return run


def tracked(work: Callable[..., dict | None]) -> Callable[..., None]:
    """Wrap a job body: mark the run running, then succeeded with its result or failed.

    The body gets the JobRun as first argument. An exception fails the run with a sentence;
    the traceback goes to the worker's log only. While the body runs, a heartbeat shows the
    run is alive (a run without one is ended by dashboard.jobs.abandoned).
    """

    @wraps(work)
    def run_job(run_id: int, **params: Any) -> None:
        run = JobRun.objects.get(pk=run_id)
        if run.finished:
            return  # given up on already (its worker was thought gone): never run twice
        run.start()
        with Heartbeat(run.pk, interval_seconds=settings.JOB_HEARTBEAT_INTERVAL_SECONDS):
            try:
                result = work(run, **params)
            except Exception as exc:
                logger.exception("job %s #%s failed", run.kind, run.pk)
                run.fail(getattr(exc, "sentence", None) or f"{type(exc).__name__}: {exc}")
                return
            run.succeed(result or {})

    return run_job
