"""EXPLAIN of recorded statements: parameters bound safely, ANALYZE only for a SELECT and an
engineer, audited; the plan tree's exclusive figures and costliest node."""

from __future__ import annotations

import psycopg
import pytest

from dashboard.audit.models import AuditEvent
from dashboard.queries.analysis import statement_shape
from dashboard.queries.explain import ExplainRefused, explain_json, explain_statement
from dashboard.queries.plans import plan_from_json
from dashboard.target import run_read
from tests.dashboard.queries.conftest import as_owner, as_superuser, queryid_of, scratch_table

pytestmark = pytest.mark.django_db

SELECT = "SELECT * FROM qt_explain WHERE owner = $1 AND note <> $2"
UPDATE = "UPDATE qt_explain SET note = $1 WHERE id = $2"
DELETE_CTE = (
    "WITH gone AS (DELETE FROM qt_explain WHERE id = $1 RETURNING id) SELECT count(*) FROM gone"
)
JOIN = (
    "SELECT o.owner, count(*) FROM qt_explain AS o "
    "JOIN qt_explain AS p ON p.id = o.owner WHERE o.note LIKE $1 GROUP BY o.owner ORDER BY 2 DESC"
)


@pytest.fixture(scope="module")
def explain_table():
    """A table with 5,000 rows, and the statements above recorded by pg_stat_statements."""
    with scratch_table(
        "qt_explain",
        "CREATE TABLE qt_explain (id serial PRIMARY KEY, owner int NOT NULL, note text NOT NULL)",
        "INSERT INTO qt_explain (owner, note) "
        "SELECT g % 100, 'note ' || g FROM generate_series(1, 5000) AS g",
        "ANALYZE qt_explain",
    ):
        with psycopg.connect(
            __import__("os").environ["TARGET_DATABASE_URL"], autocommit=True
        ) as conn:
            conn.execute("SELECT * FROM qt_explain WHERE owner = %s AND note <> %s", (3, "x"))
            conn.execute("UPDATE qt_explain SET note = %s WHERE id = %s", ("same", -1))
            conn.execute(
                "WITH gone AS (DELETE FROM qt_explain WHERE id = %s RETURNING id) "
                "SELECT count(*) FROM gone",
                (-1,),
            )
            conn.execute(
                "SELECT o.owner, count(*) FROM qt_explain AS o "
                "JOIN qt_explain AS p ON p.id = o.owner WHERE o.note LIKE %s "
                "GROUP BY o.owner ORDER BY 2 DESC",
                ("note 1%",),
            )
        yield


def _explain(client, text: str, mode: str, htmx: bool = True, **values: str):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    url = f"/queries/{queryid_of(text)}/explain/" + ("analyze/" if mode == "analyze" else "")
    return client.post(url, {"mode": mode, **values}, **headers)


def test_explain_binds_typed_literals_and_returns_the_plan_tree(viewer_client, explain_table):
    response = _explain(viewer_client, SELECT, "plain", p1="3", p2="it's")
    assert response.status_code == 200, response.content.decode()[:2000]
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="plan"')
    assert "Seq Scan" in body and "qt_explain" in body
    assert "q-costliest" in body  # the costliest step is highlighted
    assert "the statement did not run" in body
    # The typed-in value became a quoted literal, as the plan's filter shows.
    assert "(note &lt;&gt; &#x27;it&#x27;&#x27;s&#x27;::text)" in body


def test_values_become_literals_cast_to_the_parameter_types(explain_table):
    outcome = explain_statement(SELECT, {1: "3", 2: "it's"})
    assert outcome.statement == (
        "SELECT * FROM qt_explain WHERE owner = '3'::integer AND note <> 'it''s'::text"
    )
    null = explain_statement(SELECT, {1: "null", 2: "x"})
    assert "owner = NULL::integer" in null.statement


def test_a_value_cannot_escape_its_literal(viewer_client, explain_table):
    hostile = "x'; DROP TABLE qt_explain; --"
    response = _explain(viewer_client, SELECT, "plain", p1="3", p2=hostile)
    assert response.status_code == 200
    assert as_owner("SELECT count(*) FROM qt_explain")[0][0] == 5000


def test_missing_values_are_a_form_error(viewer_client, explain_table):
    response = _explain(viewer_client, SELECT, "plain", p1="3")
    assert response.status_code == 400
    assert "Fill a value for $2" in response.content.decode()


def test_generic_plan_needs_postgresql_16(viewer_client, explain_table):
    version = int(as_owner("SHOW server_version_num")[0][0])
    response = _explain(viewer_client, SELECT, "generic")
    if version >= 160000:
        assert response.status_code == 200
        assert "GENERIC_PLAN" in response.content.decode()
    else:
        assert response.status_code == 400
        assert "needs PostgreSQL 16" in response.content.decode()


def test_plain_explain_of_an_update_does_not_change_anything(viewer_client, explain_table):
    response = _explain(viewer_client, UPDATE, "plain", p1="changed", p2="1")
    assert response.status_code == 200
    assert "ModifyTable" in response.content.decode() or "Update" in response.content.decode()
    assert as_owner("SELECT count(*) FROM qt_explain WHERE note = 'changed'")[0][0] == 0


def test_explain_analyze_refused_for_a_viewer(viewer_client, explain_table):
    response = _explain(viewer_client, SELECT, "analyze", p1="3", p2="x")
    assert response.status_code == 403
    assert "engineer" in response.content.decode()
    assert not AuditEvent.objects.filter(action="queries.explain_analyze").exists()


@pytest.mark.parametrize(
    ("text", "values", "sentence"),
    [
        (UPDATE, {"p1": "changed", "p2": "1"}, "this is UPDATE"),
        (DELETE_CTE, {"p1": "1"}, "WITH clause modifies data (DELETE)"),
    ],
)
def test_explain_analyze_refused_for_anything_but_a_plain_select(
    engineer_client, explain_table, text, values, sentence
):
    response = _explain(engineer_client, text, "analyze", **values)
    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert as_owner("SELECT count(*) FROM qt_explain")[0][0] == 5000
    assert as_owner("SELECT count(*) FROM qt_explain WHERE note = 'changed'")[0][0] == 0
    assert not AuditEvent.objects.filter(action="queries.explain_analyze").exists()


def test_explain_analyze_of_a_select_runs_and_is_audited(engineer_client, explain_table):
    response = _explain(engineer_client, JOIN, "analyze", p1="note 1%")
    assert response.status_code == 200, response.content.decode()[:2000]
    body = response.content.decode()
    assert "ran in a read-only transaction" in body
    assert "Actual rows" in body and "Own time" in body
    event = AuditEvent.objects.get(action="queries.explain_analyze")
    assert event.detail["queryid"] == queryid_of(JOIN)
    assert event.detail["ok"] is True
    assert "note 1%" not in str(event.detail)  # parameter values are not audited


def test_full_page_when_not_htmx(engineer_client, explain_table):
    response = _explain(engineer_client, SELECT, "plain", htmx=False, p1="3", p2="x")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'id="plan"' in body and "Seq Scan" in body
    assert 'value="3"' in body  # the form keeps the typed values


def test_analyze_safety_check_reads_the_parse_tree():
    assert statement_shape("SELECT 1").analyze_refusal is None
    assert "locks rows" in statement_shape("SELECT * FROM t FOR UPDATE").analyze_refusal
    assert "creates a table" in statement_shape("SELECT 1 INTO t2").analyze_refusal
    assert "pg_advisory_lock" in statement_shape("SELECT pg_advisory_lock(1)").analyze_refusal
    assert not statement_shape("BEGIN").explainable
    assert not statement_shape("SELECT 1; SELECT 2").explainable


def test_plan_tree_exclusive_figures_come_from_the_real_plan(explain_table):
    outcome = explain_statement(JOIN, {1: "note 1%"}, analyze=True)
    plan = outcome.plan
    assert plan.analyzed and plan.execution_ms is not None
    for node in plan.nodes:
        children = sum(child.actual_ms or 0 for child in node.children)
        assert node.exclusive_ms == pytest.approx(max(0.0, (node.actual_ms or 0) - children))
        assert node.exclusive_cost == pytest.approx(
            max(0.0, node.total_cost - sum(child.total_cost for child in node.children))
        )
    assert plan.costliest.exclusive_ms == max(node.exclusive_ms or 0 for node in plan.nodes)
    assert sum(node.share for node in plan.nodes) == pytest.approx(100.0)
    # The same document read straight from the server gives the same tree shape.
    raw = run_read(lambda conn: explain_json(conn, outcome.statement, "FORMAT JSON"))
    assert [n.node_type for n in plan_from_json(raw).nodes] == [n.node_type for n in plan.nodes]


def test_service_refuses_analyze_of_a_non_select(explain_table):
    with pytest.raises(ExplainRefused):
        explain_statement(UPDATE, {1: "a", 2: "1"}, analyze=True)


def test_a_statement_of_another_database_is_not_explained_here(viewer_client):
    as_superuser("SELECT count(*) AS qt_elsewhere FROM pg_class", dbname="postgres")
    queryid = as_superuser(
        "SELECT s.queryid FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = 'postgres' AND s.query LIKE %s",
        ("%qt_elsewhere%",),
    )[0][0]
    page = viewer_client.get(f"/queries/{queryid}/").content.decode()
    assert "ran in another database" in page and 'id="explain-form"' not in page
    response = viewer_client.post(f"/queries/{queryid}/explain/", {"mode": "plain"})
    assert response.status_code == 400
    assert "ran in another database" in response.content.decode()
