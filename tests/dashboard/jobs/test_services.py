"""Enqueueing: a run and its queued job commit together or not at all."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction

from dashboard.jobs.models import JobRun
from dashboard.jobs.services import enqueue
from dashboard.jobs.tasks import health_check

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_that_cannot_be_queued_leaves_no_run_waiting_for_ever(monkeypatch):
    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(health_check, "defer", database_gone)
    with pytest.raises(OperationalError):
        enqueue(health_check, kind="health_check")
    assert not JobRun.objects.exists()


def test_the_run_and_its_job_are_queued_in_one_transaction():
    def queued(run_id: int) -> list[tuple[str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT status FROM procrastinate_jobs WHERE args ->> 'run_id' = %s",
                [str(run_id)],
            )
            return cursor.fetchall()

    with transaction.atomic():
        run = enqueue(health_check, kind="health_check")
        assert queued(run.pk) == [("todo",)]  # already there, inside the transaction
        transaction.set_rollback(True)
    assert queued(run.pk) == [] and not JobRun.objects.exists()
