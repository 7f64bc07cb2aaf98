"""Health numbers, and resetting the statement statistics (admin only, confirmed, audited)."""

from __future__ import annotations

import pytest

from dashboard.audit.models import AuditEvent
from tests.dashboard.queries.conftest import as_owner, as_superuser

pytestmark = pytest.mark.django_db


def test_health_page_and_partial(viewer_client, htmx_headers):
    max_connections = as_owner("SHOW max_connections")[0][0]
    full = viewer_client.get("/queries/health/")
    assert full.status_code == 200
    body = full.content.decode()
    assert "<html" in body and "Table cache hit" in body
    assert f"of max_connections ({max_connections})" in body
    assert 'id="wraparound"' in body and "schemadesk_test" in body

    partial = viewer_client.get("/queries/health/", **htmx_headers)
    fragment = partial.content.decode()
    assert fragment.lstrip().startswith('<div id="numbers"') and "<html" not in fragment


def test_health_lists_dead_rows_of_a_table():
    from dashboard.queries.health import database_health
    from tests.dashboard.queries.conftest import scratch_table

    with scratch_table(
        "qt_dead",
        "CREATE TABLE qt_dead (id int PRIMARY KEY) WITH (autovacuum_enabled = off)",
        "INSERT INTO qt_dead SELECT generate_series(1, 500)",
        "DELETE FROM qt_dead WHERE id <= 400",
        "ANALYZE qt_dead",
    ):
        row = next(r for r in database_health().vacuum if r["table_name"] == "qt_dead")
    assert row["dead_rows"] == 400 and row["live_rows"] == 100
    assert row["last_analyze"] is not None and row["last_vacuum"] is None


@pytest.fixture
def reset_not_granted():
    """Take away the grant the setup gives the maintenance role, and give it back afterwards."""
    reset = "pg_stat_statements_reset(oid, oid, bigint)"
    as_superuser(f"REVOKE EXECUTE ON FUNCTION {reset} FROM schemadesk_maintenance")
    yield
    as_superuser(f"GRANT EXECUTE ON FUNCTION {reset} TO schemadesk_maintenance")


def _recorded(text: str) -> bool:
    return bool(
        as_superuser(
            "SELECT 1 FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() AND s.query = %s",
            (text,),
        )
    )


def test_reset_needs_admin_and_confirmation_and_is_audited(admin_client, engineer_client):
    # No grant made here: the setup (core.embedded.prepare, as `make demo`) gives the
    # maintenance role EXECUTE on pg_stat_statements_reset: the admin's reset works as it is.
    as_owner("SELECT 'qt_reset_marker' AS marker")
    marker = "SELECT $1 AS marker"
    assert _recorded(marker)

    assert engineer_client.get("/queries/reset/").status_code == 403
    assert engineer_client.post("/queries/reset/", {"confirm": "yes"}).status_code == 403

    confirm = admin_client.get("/queries/reset/")
    assert (
        confirm.status_code == 200 and "Reset the statement statistics?" in confirm.content.decode()
    )
    inline = admin_client.get("/queries/reset/", HTTP_HX_REQUEST="true").content.decode()
    assert inline.lstrip().startswith('<section class="card q-confirm" id="reset-confirm"')
    unconfirmed = admin_client.post("/queries/reset/")
    assert unconfirmed.status_code == 400
    assert _recorded(marker)
    assert not AuditEvent.objects.filter(action="queries.reset_statistics").exists()

    done = admin_client.post("/queries/reset/", {"confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == "/queries/"
    assert not _recorded(marker)
    event = AuditEvent.objects.get(action="queries.reset_statistics")
    assert event.detail == {"database": "schemadesk_test"}


def test_reset_without_the_privilege_says_how_to_grant_it(admin_client, reset_not_granted):
    response = admin_client.post("/queries/reset/", {"confirm": "yes"})
    assert response.status_code == 403
    assert "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset" in response.content.decode()
    assert not AuditEvent.objects.filter(action="queries.reset_statistics").exists()


def test_health_leaves_the_consoles_connections_out_unless_asked(viewer_client, htmx_headers):
    import os

    import psycopg

    from dashboard.queries.health import database_health

    with psycopg.connect(os.environ["DATABASE_URL"], application_name="qt-health-console"):
        hidden = database_health()
        shown = database_health(show_console=True)
        assert hidden.console_connections >= 1  # this one, at least
        assert "schemadesk" not in {row["username"] for row in hidden.connections_by_role}
        assert "schemadesk" in {row["username"] for row in shown.connections_by_role}
        # Against max_connections every connection counts, hidden or not.
        assert hidden.usage.client_connections == shown.usage.client_connections
        assert sum(r["connections"] for r in hidden.connections_by_state) == (
            hidden.usage.client_connections - hidden.console_connections
        )

        page = viewer_client.get("/queries/health/").content.decode()
        assert "of the console's own connection" in page and "?console=1" in page
        toggled = viewer_client.get("/queries/health/?console=1", **htmx_headers)
        assert "Including the console's own connections" in toggled.content.decode()
