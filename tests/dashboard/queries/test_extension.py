"""A target database without pg_stat_statements (or hypopg): the pages say exactly what to do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard import target
from dashboard.queries.suggestions import hypopg_available
from tests.dashboard.queries.conftest import as_superuser
from tests.pgplugin import running_layout

pytestmark = pytest.mark.django_db

BARE_DATABASE = "qt_no_extensions"


@pytest.fixture
def bare_target(monkeypatch) -> Iterator[str]:
    """Point the console's target at a database where no extension was created."""
    if not as_superuser("SELECT 1 FROM pg_database WHERE datname = %s", (BARE_DATABASE,)):
        as_superuser(f"CREATE DATABASE {BARE_DATABASE} OWNER todo_owner TEMPLATE template0")
    assert not as_superuser(
        "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'", dbname=BARE_DATABASE
    )
    monkeypatch.setenv("TARGET_DATABASE_URL", running_layout().url("todo_owner", BARE_DATABASE))
    target.reset_engine()
    yield BARE_DATABASE
    target.reset_engine()


def test_statements_page_says_to_create_the_extension(viewer_client, htmx_headers, bare_target):
    response = viewer_client.get("/queries/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-problem="not_created"' in body
    assert "CREATE EXTENSION pg_stat_statements;" in body
    assert f"not enabled in database “{bare_target}”" in body
    assert 'id="extension-fix"' in body and 'data-copy="extension-fix"' in body

    partial = viewer_client.get("/queries/", {"window": "24h"}, **htmx_headers)
    assert partial.status_code == 200
    assert "CREATE EXTENSION pg_stat_statements;" in partial.content.decode()


def test_statement_and_indexes_pages_without_the_extension(viewer_client, bare_target):
    detail = viewer_client.get("/queries/42/")
    assert detail.status_code == 404
    assert f"not enabled in database “{bare_target}”" in detail.content.decode()

    indexes = viewer_client.get("/queries/indexes/")
    assert indexes.status_code == 200
    assert (
        "pg_stat_statements is installed on the server but not enabled" in indexes.content.decode()
    )


def test_hypopg_missing_in_the_database_is_explained(bare_target):
    status = hypopg_available()
    assert not status.installed
    assert "available on the server but not enabled" in status.sentence
    assert status.fix == "CREATE EXTENSION hypopg;"


def test_snapshot_job_explains_instead_of_crashing(bare_target, caplog):
    from dashboard.queries.tasks import snapshot_statements

    snapshot_statements(timestamp=0)
    assert "statement snapshot skipped" in caplog.text
    assert f"not enabled in database “{bare_target}”" in caplog.text


@pytest.fixture
def unreachable_target(monkeypatch, settings) -> Iterator[None]:
    """Point the console's target at a port where nothing listens."""
    monkeypatch.setenv("QT_BROKEN_TARGET_URL", "postgresql://u:pw@127.0.0.1:1/nowhere")
    settings.TARGET = {**settings.TARGET, "URL_VAR": "QT_BROKEN_TARGET_URL", "CONNECT_TIMEOUT_S": 1}
    target.reset_engine()
    yield
    target.reset_engine()


def test_parts_say_the_database_is_down_and_keep_their_place(
    viewer_client, htmx_headers, unreachable_target
):
    listing = viewer_client.get("/queries/", **htmx_headers)
    assert listing.status_code == 503
    fragment = listing.content.decode()
    assert fragment.lstrip().startswith('<div id="results"') and "not reachable" in fragment

    polled = viewer_client.get("/queries/activity/", **htmx_headers)
    assert polled.status_code == 200  # the poll keeps going and recovers by itself
    assert 'hx-trigger="every 3s"' in polled.content.decode()
    assert "not reachable" in polled.content.decode()

    page = viewer_client.get("/queries/health/")
    assert page.status_code == 503 and "not reachable" in page.content.decode()
