"""The EXPLAIN allow-list: every function a statement can make the server run, checked in the
catalog (directly, behind operators, casts, views, policies and SQL function bodies)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.queries.allow_list import allow_list_refusal
from dashboard.target import run_read
from tests.dashboard.queries.conftest import as_owner

pytestmark = pytest.mark.django_db

# Objects of the application's own that hide a side effect (created as the target's owner).
OBJECTS = """
CREATE TABLE qt_al_items (id int PRIMARY KEY, owner text, note text);
CREATE SEQUENCE qt_al_seq;
CREATE FUNCTION qt_al_plpgsql(int) RETURNS int STABLE LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_terminate_backend($1); RETURN 1; END $$;
CREATE FUNCTION qt_al_sql_ok(int) RETURNS int STABLE LANGUAGE sql AS $$ SELECT $1 + 1 $$;
CREATE FUNCTION qt_al_sql_nextval(int) RETURNS bigint STABLE LANGUAGE sql
    AS $$ SELECT nextval('qt_al_seq') + $1 $$;
CREATE FUNCTION qt_al_atomic(text) RETURNS text STABLE LANGUAGE sql
    BEGIN ATOMIC SELECT query_to_xml($1, true, true, '')::text; END;
CREATE FUNCTION qt_al_nested(int) RETURNS int STABLE LANGUAGE sql AS $$ SELECT qt_al_plpgsql($1) $$;
CREATE FUNCTION qt_al_definer(int) RETURNS int STABLE SECURITY DEFINER LANGUAGE sql
    AS $$ SELECT $1 $$;
CREATE FUNCTION qt_al_volatile(int) RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT $1 $$;
CREATE FUNCTION qt_al_overloaded(int) RETURNS int IMMUTABLE LANGUAGE sql AS $$ SELECT $1 $$;
CREATE FUNCTION qt_al_overloaded(text) RETURNS int VOLATILE LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION qt_al_equals(int, int) RETURNS boolean VOLATILE LANGUAGE sql
    AS $$ SELECT $1 = $2 $$;
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = qt_al_equals);
CREATE VIEW qt_al_killer AS SELECT pg_terminate_backend(0) AS ended;
CREATE VIEW qt_al_over_killer AS SELECT * FROM qt_al_killer;
CREATE VIEW qt_al_fine AS SELECT id, lower(note) AS note FROM qt_al_items;
CREATE DOMAIN qt_al_checked AS int CHECK (qt_al_plpgsql(VALUE) > 0);
CREATE TABLE qt_al_guarded (id int, owner text);
ALTER TABLE qt_al_guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY qt_al_guard ON qt_al_guarded USING (qt_al_sql_nextval(0) > 0);
CREATE AGGREGATE qt_al_total(int) (SFUNC = qt_al_volatile_step, STYPE = int);
"""
DROP = """
DROP AGGREGATE IF EXISTS qt_al_total(int);
DROP FUNCTION IF EXISTS qt_al_volatile_step(int, int);
DROP TABLE IF EXISTS qt_al_guarded, qt_al_items CASCADE;
DROP DOMAIN IF EXISTS qt_al_checked;
DROP VIEW IF EXISTS qt_al_over_killer, qt_al_killer;
DROP OPERATOR IF EXISTS === (int, int);
DROP FUNCTION IF EXISTS qt_al_plpgsql(int), qt_al_sql_ok(int), qt_al_sql_nextval(int),
    qt_al_atomic(text), qt_al_nested(int), qt_al_definer(int), qt_al_volatile(int),
    qt_al_overloaded(int), qt_al_overloaded(text), qt_al_equals(int, int) CASCADE;
DROP SEQUENCE IF EXISTS qt_al_seq;
"""
STEP = (
    "CREATE FUNCTION qt_al_volatile_step(int, int) RETURNS int VOLATILE LANGUAGE sql "
    "AS $$ SELECT $1 + $2 $$"
)


@pytest.fixture(scope="module")
def objects() -> Iterator[None]:
    as_owner(DROP)
    as_owner(STEP)
    as_owner(OBJECTS)
    yield
    as_owner(DROP)


def refusal(query: str, *, analyze: bool = True) -> str | None:
    return run_read(lambda conn: allow_list_refusal(conn, query, analyze=analyze))


# The statements of issue 10, and a dozen more functions with an effect outside the statement.
@pytest.mark.parametrize(
    ("query", "function", "reason"),
    [
        (
            "SELECT query_to_xml('select pg_terminate_backend(1)', true, true, '')",
            "query_to_xml",
            "runs SQL given to it as text",
        ),
        (
            "SELECT * FROM ts_stat('select to_tsvector(pg_terminate_backend(1)::text)')",
            "ts_stat",
            "runs SQL given to it as text",
        ),
        ("SELECT ts_rewrite('a'::tsquery, 'select 1')", "ts_rewrite(tsquery, text)", "runs SQL"),
        (
            "SELECT table_to_xml('qt_al_items', true, true, '')",
            "table_to_xml",
            "reads a whole table",
        ),
        ("SELECT xpath('/a', query_to_xml('select 1', true, true, ''))", "query_to_xml", "as text"),
        ("SELECT pg_notify('qt', 'x')", "pg_notify", "sends a notification"),
        ("SELECT pg_logical_emit_message(false, 'qt', 'x')", "pg_logical_emit_message", "WAL"),
        ("SELECT lo_from_bytea(0, '\\x01')", "lo_from_bytea", "large objects"),
        ("SELECT txid_current()", "txid_current", "transaction id"),
        ("SELECT pg_current_xact_id()", "pg_current_xact_id", "transaction id"),
        ("SELECT pg_terminate_backend(1)", "pg_terminate_backend", "ends another session"),
        ("SELECT pg_cancel_backend(1)", "pg_cancel_backend", "cancels"),
        ("SELECT pg_advisory_lock(1)", "pg_advisory_lock", "advisory lock"),
        ("SELECT pg_try_advisory_lock(1)", "pg_try_advisory_lock", "advisory lock"),
        ("SELECT nextval('qt_al_seq')", "nextval", "advances a sequence"),
        ("SELECT setval('qt_al_seq', 5)", "setval", "sets a sequence"),
        ("SELECT set_config('role', 'postgres', false)", "set_config", "changes a setting"),
        ("SELECT pg_sleep(1)", "pg_sleep", "holds the connection"),
        ("SELECT lo_import('/etc/passwd')", "lo_import", "large objects"),
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file", "reads files"),
        ("SELECT pg_switch_wal()", "pg_switch_wal", "new WAL file"),
        ("SELECT pg_reload_conf()", "pg_reload_conf", "configuration"),
        ("SELECT pg_stat_reset()", "pg_stat_reset", "resets statistics"),
        ("SELECT random()", "random", "VOLATILE"),
    ],
)
def test_functions_with_effects_are_refused_by_name_and_reason(objects, query, function, reason):
    sentence = refusal(query)
    assert sentence and sentence.startswith("EXPLAIN ANALYZE is refused: the statement calls")
    assert function in sentence and reason in sentence


def test_dblink_is_refused(objects, dblink):
    assert "connects to another database" in refusal(
        "SELECT * FROM dblink('dbname=x', 'select 1') AS t(x int)"
    )


@pytest.mark.parametrize(
    ("query", "where", "reason"),
    [
        ("SELECT qt_al_plpgsql(1)", "the statement calls qt_al_plpgsql(integer)", "plpgsql"),
        ("SELECT qt_al_sql_nextval(1)", "the function public.qt_al_sql_nextval", "nextval"),
        ("SELECT qt_al_atomic('select 1')", "the function public.qt_al_atomic", "query_to_xml"),
        ("SELECT qt_al_nested(1)", "the function public.qt_al_nested", "plpgsql"),
        ("SELECT qt_al_definer(1)", "qt_al_definer(integer)", "SECURITY DEFINER"),
        ("SELECT qt_al_volatile(1)", "qt_al_volatile(integer)", "VOLATILE"),
        ("SELECT qt_al_overloaded(1)", "qt_al_overloaded(text)", "VOLATILE"),  # in doubt
        ("SELECT 1 === 2", "the operator === (in the statement)", "VOLATILE"),
        ("SELECT * FROM qt_al_killer", "the view qt_al_killer", "ends another session"),
        ("SELECT * FROM qt_al_over_killer", "(through the view qt_al_over_killer)", "ends"),
        ("SELECT 1::qt_al_checked", "the type qt_al_checked", "plpgsql"),
        ("SELECT * FROM qt_al_guarded", "row-level security policy of qt_al_guarded", "nextval"),
        ("SELECT qt_al_total(id) FROM qt_al_items", "the aggregate qt_al_total", "VOLATILE"),
        ("SELECT * FROM qt_al_items TABLESAMPLE qt_rows(5)", "the sampling method", "not know"),
        ("SELECT qt_no_such_function(1)", "qt_no_such_function()", "not in the catalog"),
    ],
)
def test_side_effects_hidden_in_the_schema_are_found(objects, query, where, reason):
    sentence = refusal(query)
    assert sentence and where in sentence and reason in sentence


@pytest.mark.parametrize(
    "query",
    [
        "SELECT o.id, count(*), max(o.note), lower(o.note) || 'x', now(), current_date, "
        "date_trunc('day', now()), extract(year FROM now()), coalesce(o.owner, 'n'), "
        "nullif(o.owner, ''), greatest(1, 2), o.id BETWEEN 1 AND 5, o.id NOT IN (1, 2), "
        "o.note ILIKE '%a%', o.note SIMILAR TO 'a%', o.owner IS DISTINCT FROM 'x', "
        "jsonb_build_object('a', 1) -> 'a', ARRAY[1, 2] @> ARRAY[1], "
        "substring(o.note FROM 1 FOR 2), trim(o.note), now() AT TIME ZONE 'UTC', "
        "CASE o.id WHEN 1 THEN 'one' END, format('%s', 1), "
        "row_number() OVER (ORDER BY o.id), '1'::regclass, CAST('1' AS bigint) "
        "FROM qt_al_items AS o JOIN qt_al_fine AS f USING (id) "
        "WHERE o.id = ANY (SELECT id FROM qt_al_items) AND EXISTS (SELECT 1) "
        "GROUP BY o.id ORDER BY o.id USING <",
        "SELECT qt_al_sql_ok(id) FROM qt_al_items TABLESAMPLE bernoulli(50)",
        "WITH recent AS (SELECT * FROM qt_al_items) SELECT * FROM recent, generate_series(1, 3)",
        "SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)",
        "SELECT xpath('/a', '<a/>'::xml)",
    ],
)
def test_ordinary_statements_pass(objects, query):
    assert refusal(query) is None


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ("SELECT query_to_xml('select pg_terminate_backend(1)', true, true, '')", False),
        ("SELECT pg_terminate_backend(1)", False),
        ("SELECT * FROM qt_al_killer", False),
        ("SELECT txid_current()", True),  # STABLE: planning may evaluate it
        ("SELECT table_to_xml('qt_al_items', true, true, '')", True),
        ("SELECT qt_al_plpgsql(1)", True),
        ("SELECT qt_al_definer(1)", True),
    ],
)
def test_plain_explain_refuses_only_what_planning_may_evaluate(objects, query, refused):
    sentence = refusal(query, analyze=False)
    assert bool(sentence) is refused
    if refused:
        assert sentence.startswith("EXPLAIN is refused: planning may evaluate")
