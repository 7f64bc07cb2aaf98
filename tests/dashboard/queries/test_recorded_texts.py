"""Values in statement texts never reach a Queries page or the snapshots.

pg_stat_statements replaces the constants of SELECT, INSERT, UPDATE, DELETE and MERGE by `$n`,
but keeps other statements as they were sent. The console's own EXPLAIN is one of them: the
value an operator types for `$1` (an end-user's email, say) was recorded as
`EXPLAIN (…) SELECT … WHERE email = 'someone@example.com'::text`, and every viewer could read
it on the Queries pages, though the audit trail deliberately leaves those values out.
"""

from __future__ import annotations

import secrets

import pytest

from dashboard.queries.models import StatementText
from dashboard.queries.snapshots import capture_snapshot
from dashboard.queries.sqlformat import recorded_text
from dashboard.target import read_only_setup
from tests.dashboard.queries.conftest import as_superuser, queryid_of, scratch_table

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "statement",
    [
        "EXPLAIN (FORMAT JSON, SETTINGS) SELECT id FROM t WHERE email = '{value}'::text",
        "EXPLAIN ANALYZE SELECT * FROM t WHERE id = {number}",
        "COPY (SELECT * FROM t WHERE email = '{value}') TO STDOUT",
        "DECLARE c CURSOR FOR SELECT * FROM t WHERE note = $${value}$$",
        "SET app.current_user_id = '{value}'",
        "ALTER ROLE a PASSWORD '{value}'",
        "EXPLAIN SELECT * FROM t WHERE email = '{value}",  # does not parse: masked anyway
    ],
)
def test_the_constants_of_statements_left_as_sent_are_masked(statement):
    value, number = f"person-{secrets.token_hex(6)}@example.com", "918273645"
    shown = recorded_text(statement.format(value=value, number=number))
    assert value not in shown and number not in shown
    assert shown.split()[0] == statement.split()[0]  # still the statement it was


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT id FROM t WHERE email = $1 AND note LIKE $2",
        "UPDATE t SET note = $1 WHERE id = $2",
        "WITH x AS (SELECT $1::int AS a) SELECT a FROM x",
    ],
)
def test_statements_pg_stat_statements_normalizes_are_unchanged(statement):
    assert recorded_text(statement) == statement


def test_a_value_typed_for_explain_is_not_shown_to_viewers(viewer_client, engineer_client):
    value = f"victim-{secrets.token_hex(6)}@example.org"
    with scratch_table(
        "qt_people",
        "CREATE TABLE qt_people (id bigint PRIMARY KEY, email text NOT NULL)",
        "GRANT SELECT ON qt_people TO PUBLIC",
    ):
        as_superuser("SELECT id FROM qt_people WHERE email = 'first@example.org'")
        queryid = queryid_of("SELECT id FROM qt_people WHERE email = $1")
        for client, path in ((viewer_client, "explain"), (engineer_client, "explain/analyze")):
            response = client.post(f"/queries/{queryid}/{path}/", {"p1": value})
            assert response.status_code == 200
            assert value in response.content.decode()  # the operator sees what they typed
        recorded = as_superuser(
            "SELECT s.queryid, r.rolname FROM pg_stat_statements AS s "
            "JOIN pg_roles AS r ON r.oid = s.userid "
            "WHERE s.query LIKE 'EXPLAIN%%' AND s.query LIKE %s",
            (f"%{value}%",),
        )
        roles = {role for _, role in recorded}
        assert len(roles) == 2  # the plain EXPLAIN's and the read-only role's, as sent
        pages = [viewer_client.get("/queries/", {"console": "1", "q": "qt_people"})]
        # (The read-only role's entries are the console's EXPLAIN ANALYZE runs: no page.)
        pages += [
            viewer_client.get(f"/queries/{queryid}/")
            for queryid, role in recorded
            if role != read_only_setup().role
        ]
        for response in pages:
            assert response.status_code == 200
            page = response.content.decode()
            assert "qt_people" in page and value not in page
        capture_snapshot()
        stored = StatementText.objects.filter(queryid__in=[q for q, _ in recorded])
        texts = list(stored.values_list("text", flat=True))
        assert texts and all(value not in text for text in texts)
