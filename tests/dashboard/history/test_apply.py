"""Applying to the target: off by default; admins only after typing the target revision."""

from __future__ import annotations

import psycopg
import pytest

from dashboard.audit.models import AuditEvent
from dashboard.history import tasks
from dashboard.jobs.models import JobRun
from tests.dashboard.history.conftest import migrate, owner_url

pytestmark = pytest.mark.django_db


def _version(dbname: str) -> list[tuple[str]]:
    with psycopg.connect(owner_url(dbname)) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchall()


def test_off_by_default(console_on, numbered_project, project_database, admin_client):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "001")
    response = admin_client.post("/migrations/apply", {"confirm_revision": "003"})
    assert response.status_code == 302
    assert JobRun.objects.filter(kind="migration_apply").count() == 0
    assert _version(project_database) == [("001",)]
    page = admin_client.get("/migrations/").content.decode()
    assert 'id="apply-command"' in page and 'name="confirm_revision"' not in page


def test_admin_applies_after_typing_the_revision(
    console_on, settings, numbered_project, project_database, admin_client, htmx_headers
):
    console_on(numbered_project, project_database)
    settings.MIGRATIONS_APPLY_ENABLED = True
    migrate(numbered_project, project_database, "001")
    page = admin_client.get("/migrations/").content.decode()
    assert 'name="confirm_revision"' in page and 'placeholder="003"' in page

    wrong = admin_client.post("/migrations/apply", {"confirm_revision": "002"}, **htmx_headers)
    assert wrong.status_code == 400
    assert b"Type the target revision exactly (003)" in wrong.content
    assert JobRun.objects.filter(kind="migration_apply").count() == 0

    response = admin_client.post("/migrations/apply", {"confirm_revision": "003"}, **htmx_headers)
    assert response.status_code == 200
    run = JobRun.objects.get(kind="migration_apply")
    assert run.params == {"destination": "003"}
    event = AuditEvent.objects.get(action="migrations.apply")
    assert event.detail["destination"] == "003" and event.operator_name == "ada-admin"

    tasks._apply(run.pk, destination="003")
    run.refresh_from_db()
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    assert run.result["applied"] == "002, 003"
    assert _version(project_database) == [("003",)]


def test_only_admins_may_apply(
    console_on, settings, numbered_project, project_database, engineer_client
):
    console_on(numbered_project, project_database)
    settings.MIGRATIONS_APPLY_ENABLED = True
    response = engineer_client.post("/migrations/apply", {"confirm_revision": "003"})
    assert response.status_code == 403
    assert JobRun.objects.filter(kind="migration_apply").count() == 0


def test_a_failing_apply_stops_at_the_revision(
    console_on, settings, broken_project, project_database
):
    console_on(broken_project, project_database)
    settings.MIGRATIONS_APPLY_ENABLED = True
    run = JobRun.objects.create(kind="migration_apply", params={"destination": "002"})
    tasks._apply(run.pk, destination="002")
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert "Upgrade of 002 failed" in run.error and "Applied before it: 001" in run.error
    assert _version(project_database) == [("001",)]


def test_enabled_without_the_owner_url_says_so_before_the_revision_is_typed(
    console_on, settings, numbered_project, project_database, admin_client, htmx_headers
):
    """Seen after `manage.py connect`: MIGRATIONS_APPLY_ENABLED=true without
    MIGRATIONS_APPLY_DATABASE_URL offered the form, and applying failed late, as the reader."""
    console_on(numbered_project, project_database)
    settings.MIGRATIONS_APPLY_ENABLED = True
    settings.TARGET = {**settings.TARGET, "APPLY_URL_VAR": ""}
    migrate(numbered_project, project_database, "001")
    page = admin_client.get("/migrations/").content.decode()
    problem = page.split('id="apply-problem">')[1].split("</p>")[0]
    assert "MIGRATIONS_APPLY_DATABASE_URL is not set" in problem
    assert 'name="confirm_revision"' not in page and 'id="apply-command"' in page
    assert "upgrade 003" in page.split('id="apply-command">')[1].split("</pre>")[0]

    response = admin_client.post("/migrations/apply", {"confirm_revision": "003"}, **htmx_headers)
    assert response.status_code == 400
    assert b"MIGRATIONS_APPLY_DATABASE_URL is not set" in response.content
    assert JobRun.objects.filter(kind="migration_apply").count() == 0

    # A job queued before the URL went away refuses too, before running anything.
    run = JobRun.objects.create(kind="migration_apply", params={"destination": "003"})
    tasks._apply(run.pk, destination="003")
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED
    assert "MIGRATIONS_APPLY_DATABASE_URL is not set" in run.error
    assert _version(project_database) == [("001",)]
