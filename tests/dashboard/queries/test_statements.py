"""The slow-query list and a statement's page, on a real workload recorded by pg_stat_statements."""

from __future__ import annotations

import os
import re

import pytest

from dashboard.queries.listing import StatementFilters
from dashboard.queries.statements import statement_page
from tests.dashboard.queries.conftest import queryid_of

pytestmark = pytest.mark.django_db

SLEEP = "SELECT pg_sleep($1)"
HEAVY = "SELECT count(*) FROM generate_series($1::int, $2::int) AS g WHERE g % $3 = $4"
FAST = "SELECT $1::int + $2::int"


@pytest.fixture
def workload(workload_role):
    """Run a known workload as a throwaway role: two sleeps, one heavy scan, many fast calls."""
    conn = workload_role()
    for _ in range(2):
        conn.execute("SELECT pg_sleep(%s)", (0.2,))
    conn.execute(
        "SELECT count(*) FROM generate_series(%s::int, %s::int) AS g WHERE g %% %s = %s",
        (1, 50_000, 7, 3),
    )
    for number in range(25):
        conn.execute("SELECT %s::int + %s::int", (number, 1))
    return workload_role.role


def _texts(page) -> list[str]:
    return [row.text for row in page.rows]


def _filters(**query: str) -> StatementFilters:
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update(query)
    return StatementFilters.from_query(data)


def test_known_slow_statements_lead_by_total_and_by_mean_time(workload):
    status, by_total = statement_page(_filters(user=workload))
    assert status.ready
    assert _texts(by_total)[0] == SLEEP
    assert by_total.matching == 3
    sleep = by_total.rows[0]
    assert sleep.calls == 2
    assert sleep.total_ms >= 400  # two sleeps of 200 ms
    assert sleep.share is not None and sleep.share > 50

    _, by_mean = statement_page(_filters(user=workload, sort="mean"))
    assert _texts(by_mean)[:2] == [SLEEP, HEAVY]
    assert by_mean.rows[0].mean_ms > by_mean.rows[1].mean_ms > by_mean.rows[2].mean_ms

    _, by_calls = statement_page(_filters(user=workload, sort="calls"))
    assert _texts(by_calls)[0] == FAST
    assert by_calls.rows[0].calls == 25
    assert by_calls.rows[0].rows == 25


def test_filters_min_calls_min_mean_and_text(workload):
    _, frequent = statement_page(_filters(user=workload, min_calls="10"))
    assert _texts(frequent) == [FAST]

    _, slow = statement_page(_filters(user=workload, min_mean="199"))
    assert _texts(slow) == [SLEEP]

    _, by_text = statement_page(_filters(user=workload, q="GENERATE_series"))
    assert _texts(by_text) == [HEAVY]

    _, nothing = statement_page(_filters(user=workload, q="no statement has this text"))
    assert nothing.rows == [] and nothing.matching == 0


def test_other_databases_are_left_out_unless_asked(workload):
    _, this_database = statement_page(_filters(user=workload))
    _, every_database = statement_page(_filters(user=workload, db="*"))
    _, elsewhere = statement_page(_filters(user=workload, db="postgres"))
    assert this_database.matching == every_database.matching == 3
    assert elsewhere.matching == 0


def test_malformed_filters_give_sentences_not_errors(viewer_client):
    response = viewer_client.get(
        "/queries/", {"sort": "queryid; DROP TABLE x", "min_calls": "many", "window": "ever"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unknown sort" in body
    assert "is not a whole number of calls" in body
    assert "Unknown time window" in body


def test_page_and_htmx_partial(viewer_client, htmx_headers, workload):
    full = viewer_client.get("/queries/", {"user": workload})
    assert full.status_code == 200
    body = full.content.decode()
    assert "<html" in body and 'id="results"' in body
    assert "pg_sleep($1)" in body
    assert 'name="q"' in body  # the filter form

    partial = viewer_client.get("/queries/", {"user": workload, "sort": "calls"}, **htmx_headers)
    assert partial.status_code == 200
    fragment = partial.content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="results"')
    rows = re.findall(r'<a class="q-sql" href="/queries/(-?\d+)/"', fragment)
    assert rows[0] == str(queryid_of(FAST, workload))


def test_statement_page_formats_sql_and_types_parameters(viewer_client, workload):
    queryid = queryid_of(HEAVY, workload)
    response = viewer_client.get(f"/queries/{queryid}/")
    assert response.status_code == 200
    body = response.content.decode()
    # pglast's layout: one clause a line.
    assert re.search(r"SELECT.*count.*\n.*FROM.*generate_series", body)
    assert body.count('name="p') == 4
    assert "integer" in body  # $1::int is typed by the server's Describe
    assert "EXPLAIN ANALYZE needs the engineer role" in body  # a viewer
    assert 'id="statement-sql"' in body and 'data-copy="statement-sql"' in body


def test_unknown_or_malformed_queryid_is_a_404_with_a_sentence(viewer_client):
    missing = viewer_client.get("/queries/123456789/")
    assert missing.status_code == 404
    assert b"No statement has query id 123456789" in missing.content
    assert viewer_client.get("/queries/99999999999999999999/").status_code == 404


def test_the_consoles_own_statements_are_hidden_unless_asked(viewer_client, htmx_headers):
    import secrets

    import psycopg

    from tests.dashboard.queries.conftest import as_owner

    tag = secrets.token_hex(4)
    # The console's role (DATABASE_URL) and the application's owner each run one statement
    # (of different shapes: column aliases alone do not make another query id).
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"SELECT 1, 2, 3, 4, 5, 6, 7 AS qt_console_{tag}")
    as_owner(f"SELECT 1, 2, 3, 4, 5, 6, 7, 8 AS qt_app_{tag}")

    hidden = viewer_client.get(f"/queries/?q={tag}").content.decode()
    assert f"qt_app_{tag}" in hidden and f"qt_console_{tag}" not in hidden
    roles = "schemadesk, schemadesk_maintenance, schemadesk_reader, schemadesk_readonly"
    assert f"The console's own statements (roles {roles}) are hidden." in hidden

    shown = viewer_client.get(f"/queries/?q={tag}&console=1", **htmx_headers).content.decode()
    assert f"qt_app_{tag}" in shown and f"qt_console_{tag}" in shown
    assert "Including the console's own statements" in shown
    # The filters keep the choice when paging or sorting.
    assert "console=1" in re.search(r'href="([^"]*sort=mean[^"]*)"', shown).group(1)

    # Asking for the console's role by name shows its statements.
    named = viewer_client.get(f"/queries/?q={tag}&user=schemadesk").content.decode()
    assert f"qt_console_{tag}" in named
