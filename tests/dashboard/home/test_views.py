"""Overview, health endpoint, login requirement and the example background job."""

from __future__ import annotations

import json
import os
import re

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


def card_value(page: str, label: str) -> str:
    """Return the text of the overview card labelled `label`."""
    found = re.search(
        rf'<span class="label">{re.escape(label)}</span>\s*<span class="value[^"]*">([^<]*)</span>',
        page,
    )
    assert found, f"no card {label!r}"
    return found.group(1)


def test_overview_shows_both_databases_facts(viewer_client):
    response = viewer_client.get("/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>Overview</h1>" in content
    with psycopg.connect(os.environ["TARGET_DATABASE_URL"]) as conn:
        (version,) = conn.execute("SHOW server_version").fetchone()
    assert card_value(content, "PostgreSQL") == version.split(" ")[0]
    # The test database was migrated to the head of the repository's own Alembic chain.
    head = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()
    assert head and card_value(content, "Alembic revision") == head


def test_overview_says_when_the_target_has_no_alembic_history(viewer_client, settings):
    # A schema without an alembic_version table: the card says so instead of a revision.
    settings.TARGET = {**settings.TARGET, "SCHEMA": "pg_catalog"}
    content = viewer_client.get("/").content.decode()
    assert card_value(content, "Alembic revision") == "not managed by Alembic yet"


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
