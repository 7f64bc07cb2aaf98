"""EXPLAIN of recorded statements: parameters bound safely, ANALYZE only for a SELECT and an
engineer, audited; the plan tree's exclusive figures and costliest node."""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from dashboard.audit.models import AuditEvent
from dashboard.queries.analysis import statement_shape
from dashboard.queries.explain import (
    ExplainRefused,
    explain_json,
    explain_options,
    explain_statement,
)
from dashboard.queries.plans import plan_from_json
from dashboard.target import TargetError, run_read
from tests.conftest import HTMX, superuser_database_url
from tests.dashboard.queries.conftest import as_owner, as_superuser, queryid_of, scratch_table
from tests.pgplugin import TEST_DATABASE

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
        with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
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


def test_generic_plan_works_on_every_supported_version(viewer_client, explain_table):
    # PostgreSQL 16+ has EXPLAIN (GENERIC_PLAN); before, PREPARE + force_generic_plan +
    # EXPLAIN EXECUTE (NULL, …). Either way, no value is typed and the plan comes back.
    response = _explain(viewer_client, SELECT, "generic")
    assert response.status_code == 200, response.content.decode()[:2000]
    body = response.content.decode()
    assert "generic plan" in body and "for any parameter values" in body
    assert "qt_explain" in body and "$1" in body  # the statement as explained keeps its $n


def test_a_generic_plan_leaves_no_prepared_statement_or_setting_behind(explain_table):
    from dashboard.queries.explain import generic_plan_json

    def work(conn):
        document = generic_plan_json(conn, SELECT, explain_options(analyze=False))
        left = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
        return document, left

    document, left = run_read(work)
    assert document[0]["Plan"]["Relation Name"] == "qt_explain"
    assert left == 0
    # The plan really is the generic one: the filter keeps its parameter symbols.
    assert "$1" in document[0]["Plan"]["Filter"]


def test_a_failing_generic_plan_still_deallocates(explain_table):
    from dashboard.queries.explain import generic_plan_json
    from dashboard.target import TargetError

    def work(conn):
        # PREPARE succeeds; the EXPLAIN after it fails (an option EXPLAIN does not know).
        with pytest.raises(DBAPIError) as failure:
            generic_plan_json(conn, SELECT, "NO_SUCH_OPTION")
        left = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
        return str(failure.value.orig), left

    message, left = run_read(work)
    assert "no_such_option" in message.lower() and left == 0
    with pytest.raises(TargetError):
        run_read(lambda conn: generic_plan_json(conn, SELECT, "NO_SUCH_OPTION"))


INTERVAL_TEXT = (
    "SELECT id FROM qt_explain WHERE owner = $1 AND now() - interval $2 < now() LIMIT $3"
)


@pytest.fixture
def interval_statement(explain_table):
    """A statement whose recorded text does not parse as it is: `interval '1 day'` became
    `interval $2`."""
    as_owner(
        "SELECT id FROM qt_explain WHERE owner = 7 AND now() - interval '1 day' < now() LIMIT 5"
    )
    return INTERVAL_TEXT


def test_parameter_boxes_show_the_expected_type(viewer_client, explain_table):
    page = viewer_client.get(f"/queries/{queryid_of(SELECT)}/").content.decode()
    assert '<code>$1</code> <span class="muted">integer</span>' in page
    assert 'placeholder="integer"' in page and 'placeholder="text"' in page


def test_types_of_a_text_that_only_parses_once_rewritten(viewer_client, interval_statement):
    from dashboard.queries.explain import parameter_slots

    slots = run_read(lambda conn: parameter_slots(conn, interval_statement))
    assert [slot.type_name for slot in slots] == ["integer", "interval", "bigint"]
    page = viewer_client.get(f"/queries/{queryid_of(interval_statement)}/").content.decode()
    assert 'placeholder="interval"' in page
    response = _explain(viewer_client, interval_statement, "plain", p1="7", p2="1 day", p3="5")
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "qt_explain" in response.content.decode()
    outcome = explain_statement(interval_statement, {1: "7", 2: "1 day", 3: "5"})
    assert "CAST('1 day'::interval AS interval)" in outcome.statement
    generic = _explain(viewer_client, interval_statement, "generic")
    assert generic.status_code == 200, generic.content.decode()[:2000]


def test_an_explain_error_shows_the_database_sentence(viewer_client, explain_table):
    response = _explain(viewer_client, SELECT, "plain", p1="three", p2="x")
    assert response.status_code == 422
    body = response.content.decode()
    assert 'invalid input syntax for type integer: "three"' in body.replace("&quot;", '"')
    assert "The database refused the statement" in body


APP_DELETE = "DELETE FROM qt_explain WHERE id = $1"


def _run_as_application(sql: str, *params: object) -> None:
    """Run one statement as the application's runtime role (todo_app), as the application."""
    with psycopg.connect(os.environ["APP_DATABASE_URL"], autocommit=True) as app:
        app.execute(sql, params)


def _recorded_by(text: str, role: str) -> int:
    """Return how many times `role` ran `text` at the top level (pg_stat_statements)."""
    return as_superuser(
        "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements AS s "
        "JOIN pg_roles AS r ON r.oid = s.userid "
        "WHERE r.rolname = %s AND s.query = %s AND s.toplevel",
        (role, text),
    )[0][0]


def test_plain_explain_of_an_application_delete_plans_it_without_running_it(
    engineer_client, explain_table
):
    """The reader may not even plan a DELETE (PostgreSQL checks the rights when planning): the
    application's role plans it, in a read-only transaction that is rolled back."""
    _run_as_application("DELETE FROM qt_explain WHERE id = %s", -1)  # recorded, deletes nothing
    runs = _recorded_by(APP_DELETE, "todo_app")
    page = engineer_client.get(f"/queries/{queryid_of(APP_DELETE)}/").content.decode()
    assert 'id="plain-refusal"' not in page and 'value="plain"' in page

    response = _explain(engineer_client, APP_DELETE, "plain", p1="7")
    body = response.content.decode()
    assert response.status_code == 200, body[:2000]
    assert '<strong>ModifyTable</strong> <span class="q-target">on qt_explain' in body
    assert "(id = 7)" in body and "planned as the application's role" in body
    assert "Actual rows" not in body
    assert _explain(engineer_client, APP_DELETE, "generic").status_code == 200

    analyzed = _explain(engineer_client, APP_DELETE, "analyze", p1="7")
    assert analyzed.status_code == 400 and "this is DELETE" in analyzed.content.decode()
    assert as_owner("SELECT count(*) FROM qt_explain")[0][0] == 5000
    assert as_owner("SELECT count(*) FROM qt_explain WHERE id = 7")[0][0] == 1
    assert _recorded_by(APP_DELETE, "todo_app") == runs  # the application's DELETE ran no more


def test_plain_explain_of_an_update_as_a_viewer_leaves_the_rows_alone(viewer_client, explain_table):
    response = _explain(viewer_client, UPDATE, "plain", p1="changed", p2="1")
    assert response.status_code == 200, response.content.decode()[:2000]
    assert '<strong>ModifyTable</strong> <span class="q-target">on qt_explain' in (
        response.content.decode()
    )
    assert as_owner("SELECT count(*) FROM qt_explain WHERE note = 'changed'")[0][0] == 0


def test_the_application_role_cannot_write_in_the_plan_transaction(explain_table):
    """The fence under the EXPLAIN: whatever reaches the application's role's transaction,
    it is read-only, and cannot be made read-write again."""
    for statement, refusal in (
        ("DELETE FROM qt_explain WHERE id = 8", "cannot execute DELETE in a read-only transaction"),
        (
            "SELECT set_config('transaction_read_only', 'off', true)",
            "read-write mode must be set before any query",
        ),
    ):
        with pytest.raises(TargetError) as refused:
            run_read(lambda conn, s=statement: conn.exec_driver_sql(s), as_application=True)
        assert refusal in refused.value.detail
    assert as_owner("SELECT count(*) FROM qt_explain WHERE id = 8")[0][0] == 1


def test_without_the_application_role_the_page_says_why_a_write_cannot_be_explained(
    viewer_client, explain_table, settings
):
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": ""}
    page = viewer_client.get(f"/queries/{queryid_of(UPDATE)}/").content.decode()
    assert 'id="plain-refusal"' in page and "TARGET_WRITE_DATABASE_URL" in page
    assert 'value="plain"' not in page  # no button that can only fail
    response = _explain(viewer_client, UPDATE, "plain", p1="changed", p2="1")
    assert response.status_code == 400
    assert "needs the rights to run it" in response.content.decode()
    assert as_owner("SELECT count(*) FROM qt_explain WHERE note = 'changed'")[0][0] == 0
    # A statement that only reads still plans as the reader.
    assert _explain(viewer_client, SELECT, "plain", p1="3", p2="x").status_code == 200


def test_a_superuser_is_never_the_role_that_plans_writes(
    viewer_client, explain_table, settings, monkeypatch
):
    monkeypatch.setenv("QT_SUPERUSER_AS_APPLICATION", superuser_database_url())
    settings.TARGET_WRITE = {**settings.TARGET_WRITE, "URL_VAR": "QT_SUPERUSER_AS_APPLICATION"}
    response = _explain(viewer_client, UPDATE, "plain", p1="changed", p2="1")
    assert response.status_code == 409
    assert "is a superuser" in response.content.decode()


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
    assert "ran as the read-only role, in a read-only transaction" in body
    assert "Actual rows" in body and "Own time" in body
    event = AuditEvent.objects.get(action="queries.explain_analyze")
    assert event.detail["queryid"] == queryid_of(JOIN)
    assert event.detail["ok"] is True
    assert "note 1%" not in str(event.detail)  # a lookup table: no reason, no values


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
    nested = "SELECT * FROM (WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d) AS s"
    assert "modifies data (DELETE)" in statement_shape(nested).analyze_refusal
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


# -- read-only must mean read-only: the bypasses of issue 10 and a dozen more ------------------

SEQUENCE = "qt_explain_seq"
# name: (statement as the application sends it, harmless values to record it, run as the
# superuser, the hostile values an engineer types, given the victim's pid)
HOSTILE = {
    "query_to_xml": (
        "SELECT query_to_xml(%s, %s, %s, %s)",
        ("select 1", True, True, "x"),
        False,
        lambda pid: [f"select pg_terminate_backend({pid})", "true", "true", "x"],
    ),
    "ts_stat": (
        "SELECT * FROM ts_stat(%s)",
        ("select to_tsvector('a')",),
        False,
        lambda pid: [f"select to_tsvector(pg_terminate_backend({pid})::text)"],
    ),
    "pg_terminate_backend": ("SELECT pg_terminate_backend(%s)", (0,), False, lambda pid: [pid]),
    "pg_cancel_backend": ("SELECT pg_cancel_backend(%s)", (0,), False, lambda pid: [pid]),
    "pg_notify": (
        "SELECT pg_notify(%s, %s)",
        ("qt_unused", "x"),
        False,
        lambda _: ["qt_victim", "hi"],
    ),
    "pg_logical_emit_message": (
        "SELECT pg_logical_emit_message(%s, %s, %s)",
        (True, "qt", "x"),
        False,
        lambda _: ["false", "qt", "x"],
    ),
    "lo_from_bytea": (
        "SELECT lo_from_bytea(%s, %s)",
        (0, b"\x01"),
        False,
        lambda _: ["0", "\\x01"],
    ),
    "txid_current": ("SELECT txid_current() + %s", (0,), False, lambda _: ["0"]),
    "pg_advisory_lock": ("SELECT pg_advisory_lock(%s)", (4201,), False, lambda _: ["4202"]),
    "nextval": ("SELECT nextval(%s)", (SEQUENCE,), False, lambda _: [SEQUENCE]),
    "setval": ("SELECT setval(%s, %s)", (SEQUENCE, 1), False, lambda _: [SEQUENCE, "1000"]),
    "set_config": (
        "SELECT set_config(%s, %s, %s)",
        ("application_name", "qt", True),
        False,
        lambda _: ["role", "todo_owner", "false"],
    ),
    "pg_sleep": ("SELECT pg_sleep(%s)", (0,), False, lambda _: ["5"]),
    "lo_import": ("SELECT lo_import(%s)", ("/dev/null",), True, lambda _: ["/etc/hostname"]),
    "pg_read_file": ("SELECT pg_read_file(%s)", ("/dev/null",), True, lambda _: ["/etc/hostname"]),
    "pg_switch_wal": ("SELECT pg_switch_wal()", (), True, lambda _: []),
    "dblink": (
        "SELECT * FROM dblink(%s, %s) AS t(x int)",
        ("user=postgres", "select 1"),
        True,
        lambda pid: ["user=postgres", f"select pg_terminate_backend({pid})::int"],
    ),
}


def _recorded(statement: str) -> int:
    """Return the queryid of `statement` (its %s become $n) in the test database."""
    numbered = statement
    for number in range(1, statement.count("%s") + 1):
        numbered = numbered.replace("%s", f"${number}", 1)
    return queryid_of(numbered)


@pytest.fixture(scope="module")
def hostile_statements(dblink) -> dict[str, int]:
    """Record each statement of HOSTILE in pg_stat_statements (rolled back, harmless values)."""
    as_owner(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
    as_owner(f"CREATE SEQUENCE {SEQUENCE}")
    superuser = os.environ["PG_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{TEST_DATABASE}"
    for statement, values, privileged, _ in HOSTILE.values():
        with psycopg.connect(superuser if privileged else os.environ["APP_DIRECT_URL"]) as c:
            if "dblink" in statement:  # a connection string that works
                parts = urlsplit(superuser)
                values = (
                    f"host={parts.hostname} port={parts.port} dbname={TEST_DATABASE} "
                    f"{values[0]} password={parts.password}",
                    values[1],
                )
            c.execute(statement, values)  # type: ignore[arg-type]
            c.rollback()
            c.execute("SELECT pg_advisory_unlock_all()")
    yield {name: _recorded(statement) for name, (statement, *_) in HOSTILE.items()}
    as_owner(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


def _state() -> dict[str, object]:
    """What a side effect would change: large objects, the sequence, advisory locks."""
    return {
        "large objects": as_superuser("SELECT count(*) FROM pg_largeobject_metadata")[0][0],
        "sequence": as_owner(f"SELECT last_value, is_called FROM {SEQUENCE}")[0],
        "advisory locks": as_superuser("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[
            0
        ][0],
    }


def test_explain_analyze_refuses_every_side_effect_and_nothing_changes(
    engineer_client, hostile_statements
):
    with (
        psycopg.connect(os.environ["APP_DATABASE_URL"], autocommit=True) as victim,
        psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as listener,
    ):
        listener.execute("LISTEN qt_victim")
        before = _state()
        for name, (_, _, _, hostile) in HOSTILE.items():
            values = {f"p{n}": str(v) for n, v in enumerate(hostile(victim.info.backend_pid), 1)}
            response = engineer_client.post(
                f"/queries/{hostile_statements[name]}/explain/analyze/",
                {"mode": "analyze", **values},
                HTTP_HX_REQUEST="true",
            )
            body = response.content.decode()
            assert response.status_code == 400, (name, body[:1500])
            assert "EXPLAIN ANALYZE is refused" in body and name in body, (name, body[:1500])
        assert victim.execute("SELECT 42").fetchone()[0] == 42  # the victim is alive
        assert list(listener.notifies(timeout=0.2)) == []  # nothing was delivered
        assert _state() == before  # no large object, same sequence, no advisory lock
    assert not AuditEvent.objects.filter(action="queries.explain_analyze").exists()


def test_the_statement_page_says_why_analyze_is_not_offered(engineer_client, hostile_statements):
    page = engineer_client.get(f"/queries/{hostile_statements['query_to_xml']}/").content.decode()
    assert 'id="analyze-refusal"' in page
    assert "runs SQL given to it as text" in page
    assert 'formaction="/queries/' not in page  # no button that would run it


TOKENS = "SELECT id FROM qt_tokens WHERE api_token LIKE $1"


@pytest.fixture(scope="module")
def token_table():
    with scratch_table(
        "qt_tokens",
        "CREATE TABLE qt_tokens (id serial PRIMARY KEY, api_token text NOT NULL)",
        "INSERT INTO qt_tokens (api_token) SELECT md5(g::text) FROM generate_series(1, 200) AS g",
    ):
        with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
            conn.execute(TOKENS.replace("$1", "%s"), ("zz%",))
        yield


def test_a_masked_column_gets_a_plain_explain_only(engineer_client, token_table):
    queryid = queryid_of(TOKENS)
    page = engineer_client.get(f"/queries/{queryid}/").content.decode()
    assert "qt_tokens.api_token, a masked column" in page and 'id="analyze-refusal"' in page
    analyzed = engineer_client.post(
        f"/queries/{queryid}/explain/analyze/", {"mode": "analyze", "p1": "a%"}, **HTMX
    )
    assert analyzed.status_code == 400
    assert "a masked column" in analyzed.content.decode()
    assert "Actual rows" not in analyzed.content.decode()
    plain = engineer_client.post(
        f"/queries/{queryid}/explain/", {"mode": "plain", "p1": "a%"}, **HTMX
    )
    assert plain.status_code == 200 and "the statement did not run" in plain.content.decode()


def test_without_a_read_only_role_analyze_is_refused_and_plain_explain_works(
    engineer_client, explain_table, settings
):
    settings.TARGET = {**settings.TARGET, "READONLY_URL_VAR": "", "READONLY_ROLE": ""}
    queryid = queryid_of(SELECT)
    page = engineer_client.get(f"/queries/{queryid}/").content.decode()
    assert "TARGET_READONLY_DATABASE_URL" in page
    response = _explain(engineer_client, SELECT, "analyze", p1="3", p2="x")
    assert response.status_code == 400
    assert "none is set up" in response.content.decode()
    assert _explain(engineer_client, SELECT, "plain", p1="3", p2="x").status_code == 200


def test_analyze_also_runs_through_set_role(engineer_client, explain_table, settings):
    settings.TARGET = {
        **settings.TARGET,
        "READONLY_URL_VAR": "",
        "READONLY_ROLE": "schemadesk_readonly",
    }
    runs_as_readonly = (
        "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements AS s "
        "JOIN pg_roles AS r ON r.oid = s.userid "
        "WHERE r.rolname = 'schemadesk_readonly' AND s.query LIKE 'EXPLAIN%qt_explain AS o%'"
    )
    before = as_superuser(runs_as_readonly)[0][0]
    response = _explain(engineer_client, JOIN, "analyze", p1="note 2%")
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Actual rows" in response.content.decode()
    assert as_superuser(runs_as_readonly)[0][0] > before  # it ran as the read-only role


COUNT = "SELECT count(*) FROM qt_explain WHERE note LIKE $1"


def test_the_console_explains_stay_out_of_the_application_statement(engineer_client, explain_table):
    """Seen: after one EXPLAIN ANALYZE, the page showed the console's EXPLAIN text under the
    same queryid, and refused to explain it again."""
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as app:
        # A literal, as client-side binding sends it: pg_stat_statements then gives the
        # application's run and the console's EXPLAIN of it one queryid. Cheap: nothing matches.
        app.execute(COUNT.replace("$1", "'nothing matches%'"))
    queryid = queryid_of(COUNT)
    for _ in range(3):  # costlier than the application's own run
        assert _explain(engineer_client, COUNT, "analyze", p1="%").status_code == 200
    assert _explain(engineer_client, COUNT, "plain", p1="%").status_code == 200
    recorded = as_superuser(
        "SELECT r.rolname, s.toplevel, s.query FROM pg_stat_statements AS s "
        "JOIN pg_roles AS r ON r.oid = s.userid WHERE s.queryid = %s",
        (queryid,),
    )
    console_runs = [row for row in recorded if row[0] == "schemadesk_readonly"]
    assert console_runs and all(
        row[2].lstrip().upper().startswith("EXPLAIN") for row in console_runs
    )
    page = engineer_client.get(f"/queries/{queryid}/").content.decode()
    assert "schemadesk_readonly" not in page
    assert "EXPLAIN" not in page.split('id="statement-sql"')[1].split("</pre>")[0]
    assert 'id="analyze-refusal"' not in page
    assert _explain(engineer_client, COUNT, "analyze", p1="%").status_code == 200


def test_the_statement_page_is_named_by_its_sql(viewer_client, explain_table):
    queryid = queryid_of(SELECT)
    page = viewer_client.get(f"/queries/{queryid}/").content.decode()
    named = SELECT.replace("<>", "&lt;&gt;")
    assert f"<title>{named} · Schemadesk</title>" in page
    assert '<a href="/queries/">Slow queries</a>' in page
    assert f'<span aria-current="page">{named}</span>' in page
    assert f"<title>Statement {queryid}" not in page


OWNED = "SELECT count(*) FROM tasks WHERE user_id = $1 AND title LIKE $2"


@pytest.fixture
def owned_statement():
    """A statement over end-users' rows (tasks belong to users), recorded."""
    with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
        conn.execute(
            "SELECT count(*) FROM tasks WHERE user_id = %s AND title LIKE %s", ("nobody", "x%")
        )
    return OWNED


def test_explain_analyze_over_end_users_rows_needs_a_reason_and_records_the_values(
    engineer_client, owned_statement
):
    """Its row counts answer questions about end-users' rows (has this user a task whose title
    starts with "Divorce"?): like a list's count, that look has a reason and its values."""
    values = {"p1": "user_someone", "p2": "Divorce%"}
    asked = _explain(engineer_client, owned_statement, "analyze", **values)
    page = f"/queries/{queryid_of(OWNED)}/"
    assert asked.status_code == 200 and asked["HX-Redirect"].startswith("/users/reason/")
    assert asked["HX-Redirect"].endswith(f"next={quote(page, safe='')}")  # back to the page
    assert not AuditEvent.objects.filter(action="queries.explain_analyze").exists()
    engineer_client.post("/users/reason/", {"reason": "PERF-7 slow task search"})
    response = _explain(engineer_client, owned_statement, "analyze", **values)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "Actual rows" in response.content.decode()
    event = AuditEvent.objects.get(action="queries.explain_analyze")
    assert (event.reason, event.tables) == ("PERF-7 slow task search", ["tasks"])
    assert event.detail["values"] == {"$1": "user_someone", "$2": "Divorce%"}
    assert event.detail["queryid"] == queryid_of(OWNED) and event.detail["ok"] is True


def test_a_plain_explain_of_end_users_rows_needs_no_reason(viewer_client, owned_statement):
    response = _explain(viewer_client, owned_statement, "plain", p1="user_someone", p2="D%")
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert not AuditEvent.objects.exists()  # estimates only: nothing was counted
