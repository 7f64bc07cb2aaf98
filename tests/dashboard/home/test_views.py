"""Overview, health endpoint, login requirement and the example background job."""

from __future__ import annotations

import json
import os

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from django.test import Client

from dashboard.jobs.models import JobRun
from tests.pgplugin import ROOT

pytestmark = pytest.mark.django_db


def test_anonymous_request_is_redirected_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_anonymous_htmx_request_gets_a_full_page_redirect(htmx_headers):
    response = Client().get("/jobs/1/", **htmx_headers)
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/login/?next=")


def test_overview_is_a_checklist_whose_lines_load_on_their_own(viewer_client, admin_client):
    from dashboard.home.views import LINES

    response = viewer_client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<h2 id="checks-title">Is anything wrong?</h2>' in body
    viewer_lines = [key for key, kind in LINES.items() if kind.role == "viewer"]
    for key in viewer_lines:
        assert f'id="check-{key}" hx-get="/overview/{key}/" hx-trigger="load"' in body
    assert 'id="check-setup"' not in body  # admins only
    assert 'hx-get="/?part=facts"' in body
    # The health-check job is still there, folded away.
    assert '<details class="card background-jobs"' in body and "/jobs/health-check/" in body
    assert 'id="check-setup" hx-get="/overview/setup/"' in admin_client.get("/").content.decode()


def test_overview_page_reads_nothing_from_the_target(viewer_client, monkeypatch, settings):
    """The page itself renders with the target down: every line says so on its own."""
    from dashboard import target

    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:pw@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    try:
        page = viewer_client.get("/")
        line = viewer_client.get("/overview/sessions/", HTTP_HX_REQUEST="true")
        facts = viewer_client.get("/", {"part": "facts"}, HTTP_HX_REQUEST="true")
    finally:
        target.reset_engine()
    assert page.status_code == 200 and 'id="check-sessions"' in page.content.decode()
    assert line.status_code == 200  # htmx swaps it in: the notice replaces "Checking…"
    body = line.content.decode()
    assert body.lstrip().startswith('<li class="check-line check-error" id="check-sessions">')
    assert "is not reachable right now" in body and "Could not check" in body
    assert "pw@" not in body
    assert "is not reachable right now" in facts.content.decode()


def test_facts_part_names_the_target(viewer_client, htmx_headers):
    body = viewer_client.get("/", {"part": "facts"}, **htmx_headers).content.decode()
    assert body.lstrip().startswith('<p class="overview-facts" id="overview-facts">')
    with psycopg.connect(os.environ["TARGET_DATABASE_URL"]) as conn:
        (version,) = conn.execute("SHOW server_version").fetchone()
    assert f"PostgreSQL {version.split(' ')[0]} ·" in body
    # The test database was migrated to the head of the repository's own Alembic chain.
    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    assert head and f'Alembic revision <span class="mono">{head}</span>' in body


def test_facts_say_when_the_target_has_no_alembic_history(viewer_client, htmx_headers, settings):
    # A schema without an alembic_version table: the facts say so instead of a revision.
    settings.TARGET = {**settings.TARGET, "SCHEMA": "pg_catalog"}
    body = viewer_client.get("/", {"part": "facts"}, **htmx_headers).content.decode()
    assert "not managed by Alembic yet" in body and "Alembic revision" not in body


def test_a_line_as_htmx_part_and_as_a_page(viewer_client, htmx_headers, settings):
    # Thresholds come from the settings, read at the edge: at 100 % nothing is amber or red.
    settings.OVERVIEW_CONNECTIONS_WARN_PERCENT = settings.OVERVIEW_CONNECTIONS_BAD_PERCENT = 100
    part = viewer_client.get("/overview/connections/", **htmx_headers)
    assert part.status_code == 200
    fragment = part.content.decode()
    assert fragment.lstrip().startswith('<li class="check-line check-ok" id="check-connections">')
    assert "<html" not in fragment
    assert '<span aria-hidden="true">✓</span> Fine' in fragment  # a word, not only a colour
    assert '<a class="check-action" href="/queries/health/#connections">Open Health</a>' in fragment
    settings.OVERVIEW_CONNECTIONS_WARN_PERCENT = 0
    amber = viewer_client.get("/overview/connections/", **htmx_headers).content.decode()
    assert 'class="check-line check-warn"' in amber
    assert '<span aria-hidden="true">!</span> Look at it' in amber

    page = viewer_client.get("/overview/connections/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<html" in body and '<span aria-current="page">Connections</span>' in body
    assert '<a href="/">Overview</a>' in body and 'id="check-connections"' in body


def test_line_links_go_where_to_act(viewer_client, support_client, htmx_headers):
    expected = {
        "migrations": "/migrations/",
        "indexes": "/queries/indexes/",
        "connections": "/queries/health/#connections",
        "wraparound": "/queries/health/#wraparound",
        "dead-rows": "/queries/health/#vacuum",
    }
    for key, url in expected.items():
        body = viewer_client.get(f"/overview/{key}/", **htmx_headers).content.decode()
        assert f'<a class="check-action" href="{url}' in body, (key, body)
    viewer = viewer_client.get("/overview/isolation/", **htmx_headers).content.decode()
    support = support_client.get("/overview/isolation/", **htmx_headers).content.decode()
    assert 'href="/schema/">Open Schema</a>' in viewer  # viewers cannot open the report
    assert 'href="/users/isolation/">Open the isolation report</a>' in support


def test_unknown_and_forbidden_lines(viewer_client, admin_client, htmx_headers, settings):
    assert viewer_client.get("/overview/nothing-here/").status_code == 404
    assert viewer_client.get("/overview/setup/").status_code == 403
    settings.SECURE_COOKIES = False
    part = admin_client.get("/overview/setup/", **htmx_headers)
    assert part.status_code == 200 and 'id="check-setup"' in part.content.decode()


def test_a_slow_line_gives_up_at_its_timeout_and_says_so(viewer_client, htmx_headers, settings):
    """A table locked by another session: the drift check waits at most the lock timeout."""
    settings.OVERVIEW_CONNECTIONS_WARN_PERCENT = settings.OVERVIEW_CONNECTIONS_BAD_PERCENT = 100
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 200}
    holder = psycopg.connect(os.environ["APP_DIRECT_URL"])  # the owner
    holder.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
    try:
        from dashboard.schema import reflection

        reflection.invalidate()
        line = viewer_client.get("/overview/migrations/", **htmx_headers).content.decode()
        other = viewer_client.get("/overview/connections/", **htmx_headers).content.decode()
    finally:
        holder.rollback()
        holder.close()
    assert 'class="check-line check-error"' in line
    assert "A table was locked by another session" in line
    assert 'class="check-line check-ok" id="check-connections"' in other


def test_security_headers_are_set(viewer_client):
    response = viewer_client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_healthz_reports_both_databases_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    report = json.loads(response.content)
    assert report["ok"] is True
    assert report["databases"]["console"]["ok"] is True
    assert report["databases"]["target"]["ok"] is True


def test_healthz_is_503_when_the_target_is_down(monkeypatch, settings):
    from dashboard import target

    monkeypatch.setenv("BROKEN_TARGET_URL", "postgresql://u:pw@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    try:
        response = Client().get("/healthz")
    finally:
        target.reset_engine()
    assert response.status_code == 503
    report = json.loads(response.content)
    assert report["databases"]["console"]["ok"] is True
    assert report["databases"]["target"]["ok"] is False
    assert "pw@" not in response.content.decode()


def test_health_check_start_enqueues_a_job_and_returns_the_progress_partial(
    viewer_client, htmx_headers
):
    response = viewer_client.post("/jobs/health-check/", **htmx_headers)
    assert response.status_code == 200
    run = JobRun.objects.get()
    assert run.kind == "health_check" and run.status == "queued"
    assert f'id="job-{run.pk}"' in response.content.decode()
    assert "<html" not in response.content.decode()  # a partial, not the page


def test_job_page_full_and_partial(viewer_client, htmx_headers):
    run = JobRun.objects.create(kind="health_check")
    full = viewer_client.get(f"/jobs/{run.pk}/")
    partial = viewer_client.get(f"/jobs/{run.pk}/", **htmx_headers)
    assert b"<html" in full.content and b'hx-trigger="every 1s"' in full.content
    assert b"<html" not in partial.content and f"job-{run.pk}".encode() in partial.content


def test_unknown_job_is_a_404_page(viewer_client):
    response = viewer_client.get("/jobs/999999/")
    assert response.status_code == 404
    assert b"Not found" in response.content
