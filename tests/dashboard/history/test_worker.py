"""The jobs are real procrastinate tasks: queued on commit and run by a worker."""

from __future__ import annotations

import pytest

from dashboard.history.models import RevisionSql
from dashboard.history.offline import ensure_revision_sql
from dashboard.history.project import load_project
from dashboard.history.revisions import revision_named
from dashboard.jobs.models import JobRun
from dashboard.jobs.worker import run_until_idle


@pytest.mark.django_db(transaction=True)
def test_revision_sql_job_runs_in_the_worker(console_on, numbered_project, project_database):
    console_on(numbered_project, project_database)
    project = load_project()
    row = ensure_revision_sql(project, revision_named("002", project))
    run_until_idle()
    row.refresh_from_db()
    assert row.status == RevisionSql.Status.READY
    assert "ADD COLUMN price" in row.upgrade_sql
    assert JobRun.objects.get(pk=row.job_id).status == JobRun.Status.SUCCEEDED
