"""Hostile values on the query pages: a 4xx with a sentence, never a 5xx; a statement the
database refuses shows the database's own words (and the log keeps them, values redacted)."""

from __future__ import annotations

import logging

import pytest

from tests.dashboard.queries.conftest import as_owner, queryid_of, scratch_table

pytestmark = pytest.mark.django_db

AMBIGUOUS = "SELECT qt_refused_fn($1)"
TYPED = "SELECT id FROM qt_refused WHERE id = $1"


@pytest.fixture
def client(admin_client):
    admin_client.raise_request_exception = False
    return admin_client


@pytest.fixture
def refused_statements():
    """Two recorded statements the database refuses to plan with a typed-in value: a call
    that became ambiguous (a second overload was added after it ran) and an integer compare."""
    as_owner("DROP FUNCTION IF EXISTS qt_refused_fn(integer), qt_refused_fn(bigint)")
    as_owner("CREATE FUNCTION qt_refused_fn(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'")
    with scratch_table("qt_refused", "CREATE TABLE qt_refused (id integer PRIMARY KEY)"):
        as_owner("SELECT qt_refused_fn(%s)", (3,))
        as_owner("SELECT id FROM qt_refused WHERE id = %s", (3,))
        as_owner("CREATE FUNCTION qt_refused_fn(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 1'")
        yield
    as_owner("DROP FUNCTION IF EXISTS qt_refused_fn(integer), qt_refused_fn(bigint)")


def test_explain_of_a_statement_the_database_refuses_shows_its_message(
    client, refused_statements, htmx_headers, caplog
):
    url = f"/queries/{queryid_of(AMBIGUOUS)}/explain/"
    with caplog.at_level(logging.WARNING, logger="dashboard.target"):
        response = client.post(url, {"mode": "plain", "p1": "3"}, **htmx_headers)
    assert response.status_code == 422  # not 503: the database is up and said why
    body = response.content.decode()
    assert "The database refused the statement: function qt_refused_fn(unknown) is not unique" in (
        body
    )
    assert "explicit type casts" in body  # the database's hint comes along
    assert "AmbiguousFunction (42725)" in caplog.text


def test_a_refused_value_is_shown_to_the_operator_and_redacted_in_the_log(
    client, refused_statements, htmx_headers, caplog
):
    url = f"/queries/{queryid_of(TYPED)}/explain/"
    with caplog.at_level(logging.WARNING, logger="dashboard.target"):
        response = client.post(url, {"mode": "plain", "p1": "ada@example.com"}, **htmx_headers)
    assert response.status_code == 422
    assert "invalid input syntax for type integer" in response.content.decode()
    assert "ada@example.com" in response.content.decode()
    assert "InvalidTextRepresentation (22P02)" in caplog.text
    assert "ada@example.com" not in caplog.text  # an operator's input may be end-user data


def test_a_nul_in_an_explain_value_is_a_400(client, refused_statements, htmx_headers):
    url = f"/queries/{queryid_of(TYPED)}/explain/"
    response = client.post(url, {"mode": "plain", "p1": "3\x00"}, **htmx_headers)
    assert response.status_code == 400
    assert "“p1” must be text without NUL characters." in response.content.decode()


@pytest.mark.parametrize("query", ["q=%00", "db=%00", "user=a%00"])
def test_a_nul_in_a_filter_is_a_400(client, query):
    response = client.get(f"/queries/?{query}")
    assert response.status_code == 400
    assert "without NUL characters" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("page=" + "1" + "0" * 30, "is not a whole number from 1 to"),  # OFFSET beyond bigint
        ("min_calls=" + "9" * 30, "is not a whole number"),
        ("min_calls=\u0663", "is not a whole number of calls"),
    ],
)
def test_numbers_out_of_range_are_left_out_with_a_sentence(client, query, sentence):
    response = client.get(f"/queries/?{query}")
    assert response.status_code == 200
    assert sentence in response.content.decode()
