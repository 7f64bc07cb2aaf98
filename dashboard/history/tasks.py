"""Background jobs of the Migrations section (procrastinate, discovered by its Django app)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from dashboard.history.apply import run_apply
from dashboard.history.models import RevisionSql
from dashboard.history.offline import generate_into
from dashboard.history.trial import run_trial
from dashboard.jobs.models import JobRun
from dashboard.jobs.services import tracked

logger = logging.getLogger(__name__)


@tracked
def _revision_sql(run: JobRun, revision_sql_id: int) -> dict:
    row = RevisionSql.objects.get(pk=revision_sql_id)
    try:
        return generate_into(run, row)
    except Exception as exc:
        # The cached row must not stay "pending" forever: the page would poll for ever.
        row.status = RevisionSql.Status.FAILED
        row.upgrade_error = getattr(exc, "sentence", None) or f"{type(exc).__name__}: {exc}"
        row.save(update_fields=["status", "upgrade_error", "updated_at"])
        raise


@app.task(name="history.revision_sql", queue="default")
def generate_revision_sql(run_id: int, revision_sql_id: int) -> None:
    """Generate a revision's offline upgrade/downgrade SQL and review it."""
    _revision_sql(run_id, revision_sql_id=revision_sql_id)


_trial = tracked(run_trial)


@app.task(name="history.trial_run", queue="default")
def trial_run(run_id: int, trial_id: int) -> None:
    """Run the pending migrations on a throw-away branch."""
    _trial(run_id, trial_id=trial_id)


_apply = tracked(run_apply)


@app.task(name="history.apply", queue="default")
def apply_migrations(run_id: int, destination: str) -> None:
    """Apply the pending migrations to the target database (where enabled)."""
    _apply(run_id, destination=destination)
