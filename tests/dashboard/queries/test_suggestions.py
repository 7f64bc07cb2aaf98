"""Index suggestions from a statement's parse tree, checked with hypopg's hypothetical indexes."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy import text

from dashboard.queries.explain import ExplainRefused
from dashboard.queries.suggestions import (
    _with_hypothetical_indexes,
    compare_with_hypothetical_indexes,
    suggestions_for,
)
from dashboard.target import run_read
from tests.dashboard.queries.conftest import queryid_of, scratch_table

pytestmark = pytest.mark.django_db

BY_CUSTOMER = "SELECT * FROM qt_hypo WHERE customer = $1 ORDER BY placed_at DESC LIMIT $2"
BY_ID = "SELECT * FROM qt_hypo WHERE id = $1"
JOINED = (
    "SELECT h.id, l.amount FROM qt_hypo AS h JOIN qt_hypo_line AS l ON l.order_id = h.id "
    "WHERE h.status = $1"
)


@pytest.fixture(scope="module")
def hypo_tables():
    """Orders (20,000 rows, indexed only by id) and their lines; the statements recorded."""
    with (
        scratch_table(
            "qt_hypo",
            "CREATE TABLE qt_hypo (id serial PRIMARY KEY, customer int NOT NULL, "
            "status text NOT NULL, placed_at timestamptz NOT NULL)",
            "INSERT INTO qt_hypo (customer, status, placed_at) SELECT g % 2000, "
            "(ARRAY['new','paid','sent'])[g % 3 + 1], now() - g * interval '1 minute' "
            "FROM generate_series(1, 20000) AS g",
            "ANALYZE qt_hypo",
        ),
        scratch_table(
            "qt_hypo_line",
            "CREATE TABLE qt_hypo_line (id serial PRIMARY KEY, order_id int NOT NULL, amount int)",
            "INSERT INTO qt_hypo_line (order_id, amount) "
            "SELECT g % 20000 + 1, g FROM generate_series(1, 40000) AS g",
            "ANALYZE qt_hypo_line",
        ),
    ):
        with psycopg.connect(os.environ["APP_DIRECT_URL"], autocommit=True) as conn:
            conn.execute(
                "SELECT * FROM qt_hypo WHERE customer = %s ORDER BY placed_at DESC LIMIT %s",
                (7, 5),
            )
            conn.execute("SELECT * FROM qt_hypo WHERE id = %s", (7,))
            conn.execute(
                "SELECT h.id, l.amount FROM qt_hypo AS h JOIN qt_hypo_line AS l "
                "ON l.order_id = h.id WHERE h.status = %s",
                ("paid",),
            )
        yield


def test_suggestion_follows_equality_then_sort_columns(hypo_tables):
    (suggestion,) = suggestions_for(BY_CUSTOMER)
    assert suggestion.table == "qt_hypo"
    assert suggestion.columns == ("customer", "placed_at")
    assert suggestion.covered_by is None
    assert suggestion.definition() == (
        "CREATE INDEX CONCURRENTLY ON public.qt_hypo (customer, placed_at)"
    )


def test_columns_already_leading_an_index_are_not_suggested(hypo_tables):
    (suggestion,) = suggestions_for(BY_ID)
    assert suggestion.covered_by == "qt_hypo_pkey"


def test_join_and_filter_columns_map_to_their_tables(hypo_tables):
    suggestions = {s.table: s for s in suggestions_for(JOINED)}
    assert suggestions["qt_hypo"].columns == ("status",)
    assert suggestions["qt_hypo_line"].columns == ("order_id",)
    assert suggestions["qt_hypo_line"].covered_by is None


def test_hypothetical_index_is_used_and_the_session_is_left_clean(hypo_tables, hypopg_schema):
    suggestions = suggestions_for(BY_CUSTOMER)
    comparison = compare_with_hypothetical_indexes(BY_CUSTOMER, {1: "42", 2: "5"}, suggestions)
    assert len(comparison.index_names) == 1
    assert comparison.used == comparison.index_names
    assert comparison.after.total_cost < comparison.before.total_cost
    assert not comparison.before.uses_index(comparison.index_names[0])


def test_hypothetical_indexes_are_reset_even_when_the_explain_fails(hypo_tables, hypopg_schema):
    (suggestion,) = suggestions_for(BY_CUSTOMER)

    def work(conn):
        with pytest.raises(Exception):  # noqa: B017 -- any failure of the EXPLAIN
            _with_hypothetical_indexes(
                conn, hypopg_schema, [suggestion], "SELECT * FROM qt_no_such_table"
            )
        count = text(f'SELECT count(*) FROM "{hypopg_schema}".hypopg()')
        return conn.execute(count).scalar_one()

    assert run_read(work) == 0


def test_compare_refuses_without_values(hypo_tables, hypopg_schema):
    with pytest.raises(ExplainRefused):
        compare_with_hypothetical_indexes(BY_CUSTOMER, {}, suggestions_for(BY_CUSTOMER))


def test_statement_page_lists_suggestions_and_the_hypopg_button(
    viewer_client, hypo_tables, hypopg_schema
):
    response = viewer_client.get(f"/queries/{queryid_of(BY_CUSTOMER)}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "(customer, placed_at)" in body
    assert "Compare plans with these indexes (hypopg)" in body


def test_hypothetical_view_full_and_partial(
    viewer_client, htmx_headers, hypo_tables, hypopg_schema
):
    url = f"/queries/{queryid_of(BY_CUSTOMER)}/hypothetical/"
    partial = viewer_client.post(url, {"p1": "42", "p2": "5"}, **htmx_headers)
    assert partial.status_code == 200, partial.content.decode()[:1500]
    fragment = partial.content.decode()
    assert fragment.lstrip().startswith('<div id="hypothetical"')
    assert "btree_qt_hypo_customer_placed_at" in fragment
    assert "cheaper" in fragment

    full = viewer_client.post(url, {"p1": "42", "p2": "5"})
    assert full.status_code == 200
    assert "<html" in full.content.decode() and 'id="hypothetical"' in full.content.decode()

    missing = viewer_client.post(url, {"p1": "42"}, **htmx_headers)
    assert missing.status_code == 400
    assert "Fill a value for $2" in missing.content.decode()


def test_suggestions_name_their_statements_by_sql_not_by_query_id(hypo_tables):
    from django.template.loader import render_to_string

    from dashboard.queries.indexes import index_report
    from dashboard.queries.suggestions import suggestions_for_statements

    queryid = queryid_of(BY_CUSTOMER)
    report = index_report()
    report.suggestions = suggestions_for_statements(
        [(queryid, 12.0, BY_CUSTOMER)], report.catalog, report.table_rows, report.schema
    )
    entry = next(e for e in report.suggestions if e.suggestion.table == "qt_hypo")
    assert [(s.queryid, s.label) for s in entry.statements] == [(queryid, BY_CUSTOMER)]
    html = render_to_string(
        "queries/indexes.html#report", {"report": report, "top_count": 1, "tab": "indexes"}
    )
    link = f'href="/queries/{queryid}/#suggestions" title="query id {queryid}">'
    assert f"{link}{BY_CUSTOMER}</a>" in html
    assert f">{queryid}</a>" not in html  # the 19-digit id is no link's text any more


def test_a_long_statement_is_named_by_its_first_line_of_sql():
    from dashboard.queries.sqlformat import statement_label

    long = "SELECT " + ", ".join(f"column_{n}" for n in range(40)) + "\n  FROM t"
    label = statement_label(long)
    assert len(label) == 90 and label.endswith("…") and "\n" not in label
    assert statement_label("") == "(text not available)"
