"""The console's own database down: pages answer 503 with a sentence, /healthz names it."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from core.netports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def logged_in(viewer_user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(viewer_user)
    return client


@pytest.fixture
def console_database_down(transactional_db):
    """Point Django's connection at a port where nothing listens, as when Postgres is stopped."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = free_port()
    connection.settings_dict["OPTIONS"] = {**saved["OPTIONS"], "connect_timeout": 2}
    yield
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.mark.parametrize("path", ["/", "/schema/", "/jobs/1/", "/audit/"])
def test_pages_answer_503_with_a_sentence(logged_in, console_database_down, path, caplog):
    with caplog.at_level(logging.WARNING):
        response = logged_in.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "The console&#x27;s own database (DATABASE_URL) is not answering" in body
    assert "Traceback" not in body and "OperationalError" not in body
    # One line, no traceback, no password.
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in lines] == [
        "the console's database is unreachable"
    ]
    assert all(r.exc_info is None for r in lines)
    assert connection.settings_dict["PASSWORD"] not in caplog.text


def test_htmx_requests_get_the_notice_alone(logged_in, console_database_down, htmx_headers):
    response = logged_in.get("/jobs/1/", **htmx_headers)
    assert response.status_code == 503
    body = response.content.decode()
    assert body.startswith('<div class="notice error"')
    assert "console-database" in body


def test_logging_in_answers_503(console_database_down):
    client = Client(raise_request_exception=False)
    response = client.post("/login/", {"username": "someone", "password": "x"})
    assert response.status_code == 503


def test_healthz_names_the_console_database_even_with_a_session_cookie(
    logged_in, console_database_down
):
    response = logged_in.get("/healthz")
    assert response.status_code == 503
    report = json.loads(response.content)
    assert report["down"] == ["console"]
    assert report["databases"]["console"]["error"] == (
        "The console's own database (DATABASE_URL) is not answering."
    )
    assert report["databases"]["target"]["ok"] is True


def test_other_errors_are_still_a_500_without_a_traceback(logged_in, monkeypatch):
    from dashboard.home import views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "target_overview", broken)
    response = logged_in.get("/", {"part": "facts"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "a bug" not in response.content.decode()
