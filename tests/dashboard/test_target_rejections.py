"""The gateway's statuses: a statement the database refuses (SQLSTATE classes 22, 42, 0A) is a
422 with the database's own message, not a 503 "Database unavailable"."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory
from sqlalchemy import text

from dashboard import target
from dashboard.middleware import FriendlyErrorsMiddleware


@pytest.fixture(autouse=True)
def _fresh_engine():
    target.reset_engine()
    yield
    target.reset_engine()


def refusal(sql: str, **values) -> target.TargetError:
    with pytest.raises(target.TargetError) as caught:
        target.run_read(lambda conn: conn.execute(text(sql), values).all())
    return caught.value


@pytest.mark.parametrize(
    ("sql", "values", "message"),
    [
        ("SELECT 1 / 0", {}, "division by zero"),  # 22012
        ("SELECT CAST(:v AS integer)", {"v": "12x"}, "invalid input syntax for type integer"),
        ("SELECT CAST(:v AS numeric)", {"v": "1e999999999"}, "value overflows numeric format"),
        ("SELEC 1", {}, "syntax error at or near"),  # 42601
        ("SELECT no_such_column FROM pg_class", {}, 'column "no_such_column" does not exist'),
        ("SELECT round(1, 2, 3)", {}, "function round(integer, integer, integer) does not exist"),
    ],
)
def test_refused_statements_are_422_with_the_database_message(sql, values, message):
    error = refusal(sql, **values)
    assert isinstance(error, target.TargetRejected)
    assert error.status == 422
    assert error.sentence.startswith("The database refused the statement: ")
    assert message in error.sentence


def test_the_hint_comes_along_and_the_log_line_has_no_values(caplog):
    with caplog.at_level(logging.WARNING, logger="dashboard.target"):
        error = refusal("SELECT CAST(:v AS uuid)", v="ada@example.com")
    assert 'invalid input syntax for type uuid: "ada@example.com"' in error.sentence
    assert "InvalidTextRepresentation (22P02)" in caplog.text
    assert "ada@example.com" not in caplog.text and '"…"' in caplog.text
    hinted = refusal("SELECT round(1, 2, 3)")
    assert "You might need to add explicit type casts." in hinted.sentence


def test_a_privilege_error_is_still_a_403_and_a_write_still_refused():
    denied = refusal("SELECT * FROM pg_authid")
    assert isinstance(denied, target.TargetPermissionDenied) and denied.status == 403
    write = refusal("CREATE TABLE should_not_exist (id int)")  # 25006: not a refusal of input
    assert not isinstance(write, target.TargetRejected)


def test_the_middleware_answers_a_refusal_with_422_and_says_so(rf: RequestFactory, admin_user):
    request = rf.get("/schema/")
    request.user = admin_user
    request.htmx = False
    error = target.TargetRejected("The database refused the statement: no.", "detail")
    response = FriendlyErrorsMiddleware(lambda r: None).process_exception(request, error)
    assert response.status_code == 422
    body = response.content.decode()
    assert "The database refused the statement</h1>" in body
    assert "The database did not answer" not in body
