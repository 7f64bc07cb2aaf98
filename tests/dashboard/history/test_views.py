"""The Migrations pages: full pages and their htmx partials, errors as sentences."""

from __future__ import annotations

import pytest

from dashboard.history import tasks
from dashboard.history.models import RevisionSql
from tests.dashboard.history.conftest import migrate, stamp

pytestmark = pytest.mark.django_db


def _run_queued_sql_jobs() -> None:
    for row in RevisionSql.objects.filter(status=RevisionSql.Status.PENDING):
        tasks._revision_sql(row.job_id, revision_sql_id=row.pk)


def test_index_shows_state_pending_history_and_graph(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "001")
    response = viewer_client.get("/migrations/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="db-heads"><a href="/migrations/revisions/001/">001</a>' in text
    assert 'data-status="behind"' in text and "2 revisions pending: review them" in text
    # Pending, in run order, being reviewed (and polled until the reviews are done).
    pending = text[
        text.index('id="pending"') : text.index("</section>", text.index('id="pending"'))
    ]
    assert pending.index('data-revision="002"') < pending.index('data-revision="003"')
    assert "reviewing…" in pending and 'hx-trigger="every 1s"' in pending
    # History newest first, with the date from the Create Date line, and the SVG graph.
    history = text[text.index('id="history"') :]
    assert history.index('data-revision="003"') < history.index('data-revision="001"')
    assert 'title="2025-02-03 09:00:00.000000">2025-02-03 09:00</td>' in history
    assert '<svg class="revgraph"' in history and "<script" not in text.split("</head>")[1]
    assert 'style="' not in text  # CSP: no inline styles
    # Applying is off by default: the exact command is shown instead.
    assert "MIGRATIONS_APPLY_ENABLED=false" in text
    assert f"alembic -c {numbered_project.ini} upgrade 003" in text
    assert "HISTORY_PROJECT_URL=" in text and "USER:PASSWORD@" in text
    # The drift check is loaded lazily by htmx.
    assert 'hx-get="/migrations/?part=drift"' in text


def test_pending_partial_shows_findings_once_reviewed(
    console_on, numbered_project, project_database, viewer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    viewer_client.get("/migrations/")  # queues the SQL of the pending revision
    _run_queued_sql_jobs()
    response = viewer_client.get("/migrations/?part=pending", **htmx_headers)
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and text.lstrip().startswith('<section class="card" id="pending"')
    assert 'data-revision="003"' in text
    assert "1 danger" in text  # the dropped column
    assert "every 1s" not in text  # nothing left to poll for


def test_drift_partial(console_on, numbered_project, project_database, viewer_client, htmx_headers):
    console_on(numbered_project, project_database)
    response = viewer_client.get("/migrations/?part=drift", **htmx_headers)
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and 'id="drift"' in text
    assert "hx-get" not in text  # the result, not the placeholder again


def test_several_heads_in_the_scripts_are_warned_about(
    console_on, tmp_path, project_database, viewer_client
):
    from tests.dashboard.history.conftest import BRANCHED, write_project

    project = write_project(tmp_path / "two-heads", BRANCHED[:4])  # no merge yet
    console_on(project, project_database)
    stamp(project, project_database, "2b3c4d5e6f70")
    text = viewer_client.get("/migrations/").content.decode()
    assert 'id="multiple-heads"' in text and "alembic merge heads" in text
    assert "branch point" in text


def test_database_ahead_of_the_scripts(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    stamp(numbered_project, project_database, "0042")
    text = viewer_client.get("/migrations/").content.decode()
    assert "the database is ahead of this code, or scripts are missing" in text
    assert "deploy the code that has it before applying anything" in text


def test_revision_page_full_then_sql_partial(
    console_on, numbered_project, project_database, viewer_client, htmx_headers
):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    response = viewer_client.get("/migrations/revisions/003/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Drop the note, index the name" in text
    assert "Create Date: 2025-02-03 09:00:00.000000" in text  # the docstring
    assert 'class="source"' in text and '<span class="k">def</span>' in text  # Pygments classes
    assert 'style="' not in text
    assert 'id="revision-status">pending' in text
    assert "generating" in text and 'hx-trigger="every 1s"' in text
    _run_queued_sql_jobs()
    partial = viewer_client.get("/migrations/revisions/003/", **htmx_headers)
    assert partial.status_code == 200
    body = partial.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<div id="revision-sql"')
    assert "every 1s" not in body
    assert 'data-rule="drop-column"' in body and 'data-rule="ban-drop-column"' in body
    assert 'data-rule="index-without-concurrently"' in body
    assert "DROP COLUMN" in body and "ix_hist_items_name" in body  # highlighted SQL
    assert "alembic upgrade 002:003 --sql" in body


def test_applied_revision_page(console_on, numbered_project, project_database, viewer_client):
    console_on(numbered_project, project_database)
    migrate(numbered_project, project_database, "002")
    text = viewer_client.get("/migrations/revisions/001/").content.decode()
    assert 'id="revision-status">applied' in text
    assert "nothing (a base revision)" in text


def test_unknown_revision_is_a_404_with_a_sentence(
    console_on, numbered_project, project_database, viewer_client
):
    console_on(numbered_project, project_database)
    response = viewer_client.get("/migrations/revisions/nope/")
    assert response.status_code == 404
    assert "There is no revision &#x27;nope&#x27; in the migration scripts" in (
        response.content.decode()
    )


def test_missing_configuration_is_explained(settings, viewer_client):
    settings.ALEMBIC_CONFIG = "/srv/nowhere/alembic.ini"
    response = viewer_client.get("/migrations/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "The Alembic project could not be loaded" in text
    assert "ALEMBIC_CONFIG points to /srv/nowhere/alembic.ini, which is not a file" in text
    revision = viewer_client.get("/migrations/revisions/001/")
    assert "ALEMBIC_CONFIG points to /srv/nowhere/alembic.ini" in revision.content.decode()


def test_env_py_import_error_is_shown_on_the_revision_page(
    console_on, unimportable_project, project_database, viewer_client, htmx_headers
):
    console_on(unimportable_project, project_database)
    viewer_client.get("/migrations/revisions/001/")
    _run_queued_sql_jobs()
    body = viewer_client.get("/migrations/revisions/001/", **htmx_headers).content.decode()
    assert "The upgrade SQL could not be generated" in body
    assert "No module named &#x27;schemadesk_missing_dependency&#x27;" in body


def test_regenerate_needs_engineer_and_queues_again(
    console_on, unimportable_project, project_database, viewer_client, engineer_client
):
    console_on(unimportable_project, project_database)
    viewer_client.get("/migrations/revisions/001/")
    _run_queued_sql_jobs()
    row = RevisionSql.objects.get()
    assert viewer_client.post("/migrations/revisions/001/regenerate").status_code == 403
    response = engineer_client.post("/migrations/revisions/001/regenerate")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == RevisionSql.Status.PENDING


def test_trials_list(console_on, numbered_project, project_database, viewer_client):
    console_on(numbered_project, project_database)
    from dashboard.history.models import TrialRun

    TrialRun.objects.create(project="x" * 16, succeeded=True)
    response = viewer_client.get("/migrations/trials/")
    assert response.status_code == 200
    assert b"No trial run yet" in response.content  # another project's runs are not listed
